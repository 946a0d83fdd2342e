"""The tenant registry, host resolution, schema scoping, per-schema migrations and the shard directory."""
