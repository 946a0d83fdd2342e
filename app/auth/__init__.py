"""Platform accounts, memberships and roles; local password login (SSO arrives with #4)."""
