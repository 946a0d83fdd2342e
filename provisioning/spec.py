"""What a new unit is to be: the input of a provisioning run (from a request or the CLI)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProvisionSpec:
    """Everything the pipeline needs to build a live tenant; stored as JSON on the run."""

    name: str
    kind: str  # tenants.models.UnitKind value
    unit_code: str  # QCVN 102 code, checked by tenants.naming.check_unit_code
    slug: str  # the subdomain label: <slug>.<PLATFORM_DOMAIN>
    admin_email: str  # the unit admin who gets the invitation
    admin_name: str
    parent_slug: str | None = None
    name_en: str | None = None
    gso_code: str | None = None
    theme: str = "trang-trong"  # a folder of themes/
    # Standard catalogue to seed procedures from: its unit kind and published version
    # (None: the latest published version of catalog_kind; catalog_kind None: start empty).
    catalog_kind: str | None = None
    catalog_version: int | None = None
    admin_phone: str | None = None
    admin_position: str | None = None
    hostnames: tuple[str, ...] = field(default_factory=tuple)  # verified custom domains, if any
    shard: str = "main"  # tenants.engines.PRIMARY_SHARD

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["hostnames"] = list(self.hostnames)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProvisionSpec:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["hostnames"] = tuple(known.get("hostnames") or ())
        return cls(**known)
