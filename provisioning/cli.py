"""`flask tenants provision|export|decommission|move` (issue #5)."""

from provisioning.lifecycle_cli import COMMANDS as LIFECYCLE_COMMANDS

TENANT_COMMANDS: tuple = (*LIFECYCLE_COMMANDS,)
