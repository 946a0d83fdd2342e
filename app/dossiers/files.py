"""Files of a dossier: component scans and e-results, checked, stored, and logged when officials open them."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.access import Forbidden
from app.auth.roles import CASE_OFFICER, COUNTER_OFFICER
from app.core.db import get_platform
from app.core.errors import Conflict, NotFound
from app.core.storage import get_storage, storage_key, unique_name
from app.core.uploads import check_upload
from app.dossiers import metering, records
from app.dossiers.desk import Actor, Desk, may_act_on_step
from app.dossiers.models import Dossier, DossierComponent, DossierFile
from app.dossiers.status import TERMINAL
from app.processes.models import ProcessStep

KINDS = ("component", "result", "other")
# Who scans documents into a dossier: the counter at intake, the case officer while appraising.
UPLOADERS = (COUNTER_OFFICER, CASE_OFFICER)


def check_uploader(desk: Desk, actor: Actor, dossier: Dossier, kind: str) -> None:
    """403 unless ``actor`` may add this kind of file: an uploader's role; a result needs the step's holder.

    An applicant adds documents to their own dossier, never its result.
    """
    if actor.is_applicant:
        own = actor.account_id is not None and actor.account_id == dossier.citizen_account_id
        if own and kind != "result":
            return
        raise Forbidden("Bạn không thể thêm tệp vào hồ sơ này.", "You may not add files to this dossier.")
    if not actor.roles & set(UPLOADERS):
        raise Forbidden(
            "Chỉ cán bộ một cửa và chuyên viên xử lý được tải tệp lên hồ sơ.",
            "Only counter officers and case officers may upload files to a dossier.",
        )
    if kind == "result":
        step = desk.session.get(ProcessStep, dossier.current_step_id) if dossier.current_step_id else None
        # At a liên thông step the partner unit holds the dossier: nobody here has its result.
        if (
            step is None
            or step.kind == "interop"
            or not may_act_on_step(desk.session, actor, step, dossier.current_account_id)
        ):
            raise Forbidden(
                "Chỉ người đang xử lý bước hiện tại của hồ sơ được tải lên kết quả giải quyết.",
                "Only the official handling the dossier's current step may upload its result.",
            )


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
    """Check the upload (who, size, real type, name), store it, and record it against the dossier.

    ``dossier`` comes locked (``actions.load``): a new file is a change of the dossier, so its
    version moves and whoever holds an older copy (If-Match, the page's row_version) notices.
    """
    if dossier.status in TERMINAL:
        raise Conflict(
            "Hồ sơ đã kết thúc, không thể thêm tệp.", "The dossier is closed; files can no longer be added."
        )
    if kind not in KINDS:
        raise NotFound("Loại tệp không hợp lệ.", "Unknown kind of file.")
    check_uploader(desk, actor, dossier, kind)
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
    dossier.updated_at = desk.now  # the version column moves with it
    desk.session.flush()
    metering.file_stored(desk, row)
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
