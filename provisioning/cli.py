"""`flask tenants provision|export|decommission|move` (issue #5)."""

TENANT_COMMANDS: tuple = ()
