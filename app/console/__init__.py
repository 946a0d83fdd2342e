"""The provider console (``admin.<PLATFORM_DOMAIN>``): views for provider ops, no rules."""
