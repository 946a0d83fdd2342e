"""Files of a dossier: component scans and e-results, checked, stored, and logged when officials open them."""

from __future__ import annotations

from sqlalchemy import select

from app.core.db import get_platform
from app.core.errors import Conflict, NotFound
from app.core.storage import get_storage, storage_key, unique_name
from app.core.uploads import check_upload
from app.dossiers import records
from app.dossiers.desk import Actor, Desk
from app.dossiers.models import Dossier, DossierComponent, DossierFile
from app.dossiers.status import TERMINAL

KINDS = ("component", "result", "other")


def attach(
    desk: Desk,
    actor: Actor,
    dossier: Dossier,
    filename: str,
    data: bytes,
    *,
    component_id: int | None = None,
    kind: str = "component",
) -> DossierFile:
    """Check the upload (size, real type, name), store it, and record it against the dossier."""
    if dossier.status in TERMINAL:
        raise Conflict(
            "Hồ sơ đã kết thúc, không thể thêm tệp.", "The dossier is closed; files can no longer be added."
        )
    if kind not in KINDS:
        raise NotFound("Loại tệp không hợp lệ.", "Unknown kind of file.")
    if component_id is not None:
        component = desk.session.get(DossierComponent, component_id)
        if component is None or component.dossier_id != dossier.id:
            raise NotFound(
                "Thành phần hồ sơ không thuộc hồ sơ này.", "That component is not part of this dossier."
            )
    checked = check_upload(filename, data, max_bytes=get_platform().settings.max_upload_bytes)
    key = storage_key(desk.tenant.slug, "dossiers", str(dossier.reference), unique_name(checked.filename))
    # Stored before the row commits: a rollback leaves an unreferenced object, never a row without its file.
    get_storage().put(key, checked.data, checked.content_type)
    row = DossierFile(
        dossier_id=dossier.id,
        component_id=component_id,
        kind=kind,
        storage_key=key,
        filename=checked.filename,
        content_type=checked.content_type,
        size_bytes=checked.size,
        sha256=checked.sha256,
        uploaded_by_account_id=actor.account_id,
        uploaded_at=desk.now,
    )
    desk.session.add(row)
    desk.session.flush()
    return row


def files_of(desk: Desk, dossier_id: int) -> list[DossierFile]:
    return list(
        desk.session.scalars(
            select(DossierFile)
            .where(DossierFile.dossier_id == dossier_id, DossierFile.deleted_at.is_(None))
            .order_by(DossierFile.id)
        )
    )


def open_file(desk: Desk, actor: Actor, dossier: Dossier, file_id: int) -> tuple[DossierFile, bytes]:
    """The file's bytes; an official's look at an applicant's file is logged."""
    row = desk.session.get(DossierFile, file_id)
    if row is None or row.dossier_id != dossier.id or row.deleted_at is not None:
        raise NotFound("Không tìm thấy tệp của hồ sơ này.", "This dossier has no such file.")
    if not actor.is_applicant:
        records.log_personal_data_view(desk, actor.account_id, dossier, f"file:{row.id}")
    return row, get_storage().get(row.storage_key)
