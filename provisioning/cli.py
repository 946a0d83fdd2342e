"""`flask tenants provision|runs|run-resume|run-rollback|export|decommission|move ...` (issue #5)."""

from provisioning.lifecycle_cli import COMMANDS as LIFECYCLE_COMMANDS
from provisioning.run_cli import COMMANDS as RUN_COMMANDS

TENANT_COMMANDS: tuple = (*RUN_COMMANDS, *LIFECYCLE_COMMANDS)
