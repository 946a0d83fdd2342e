"""Federation (đăng nhập liên kết): signing in at the platform through external OIDC identity providers."""
