"""One storage interface for attachments and generated documents (ARCHITECTURE.md "Files").

Keys are ``/``-separated and always start with the tenant's slug
(``ngo-quyen/dossiers/<reference>/<uuid>-<name>``), so no two tenants share a prefix.
The local directory is the default; production plugs an S3-style adapter behind the
same protocol. The content type is not kept here: the row that names the key holds it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import unicodedata
import uuid
from pathlib import Path
from typing import Protocol

from flask import Flask, current_app
from sqlalchemy import event

from app.core.errors import DomainError, NotFound

log = logging.getLogger("motcua.storage")

REPO_ROOT = Path(__file__).resolve().parents[2]
EXTENSION = "motcua.storage"

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class InvalidStorageKey(DomainError):
    status = 400

    def __init__(self, key: str):
        super().__init__(
            f"Đường dẫn lưu trữ không hợp lệ: {key!r}. Không dùng '..', '\\', đường dẫn tuyệt đối.",
            f"Invalid storage key: {key!r}. No '..', '\\' or absolute paths.",
        )


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def size(self, key: str) -> int: ...


def check_key(key: str) -> str:
    """Refuse keys that could leave the storage root or mean different files on different stores."""
    parts = key.split("/")
    if (
        not key
        or "\\" in key
        or key.startswith("/")
        or any(part in ("", ".", "..") for part in parts)
        or any(unicodedata.category(ch).startswith("C") for ch in key)
        or re.match(r"^[A-Za-z]:", key)
    ):
        raise InvalidStorageKey(key)
    return key


class LocalStorage:
    """Files in a local directory; each write lands whole or not at all (temp file + rename)."""

    def __init__(self, root: Path | str):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):  # a symlink inside the root pointing out
            raise InvalidStorageKey(key)
        return path

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        # NotADirectoryError: a part of the key is a file (``a.pdf/b``); IsADirectoryError: a folder.
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise _missing(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        with contextlib.suppress(NotADirectoryError):  # a part of the key is a file: nothing under it
            self._path(key).unlink(missing_ok=True)

    def size(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            raise _missing(key)
        return path.stat().st_size


def _missing(key: str) -> NotFound:
    # The key names the unit and the dossier: it goes to the log, never to the reader.
    log.warning("stored file not found", extra={"storage_key": key})
    return NotFound(
        "Không tìm thấy tệp. Tệp có thể đã bị xóa; hãy tải lên lại.",
        "File not found. It may have been deleted; upload it again.",
    )


def key_safe_name(filename: str) -> str:
    """ASCII form of a file name for keys: diacritics dropped, anything odd turned into '-'."""
    text = unicodedata.normalize("NFD", filename.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    text = _UNSAFE_KEY_CHARS.sub("-", text)
    text = re.sub(r"-+\.", ".", text).strip("-.").lower()
    return text[:100] or "tep"


def unique_name(filename: str) -> str:
    """``<uuid>-<safe name>``: two uploads of the same name never overwrite each other."""
    return f"{uuid.uuid4().hex}-{key_safe_name(filename)}"


def storage_key(tenant_slug: str, *parts: str) -> str:
    """``storage_key("ngo-quyen", "dossiers", ref, unique_name(name))`` -> ``ngo-quyen/dossiers/…``."""
    if not _SLUG.fullmatch(tenant_slug):
        raise InvalidStorageKey(tenant_slug)
    if not parts or any("/" in part for part in parts):
        raise InvalidStorageKey("/".join((tenant_slug, *parts)))
    return check_key("/".join((tenant_slug, *parts)))


def storage_root(setting: str) -> Path:
    path = Path(setting)
    return path if path.is_absolute() else REPO_ROOT / path


_PENDING = "motcua.storage.delete_after_commit"


def delete_after_commit(session, keys) -> None:
    """Delete these stored objects once ``session`` commits; a rollback keeps them.

    A row never loses its file. Call it beside the removal of the rows that name the keys,
    outside any savepoint that may roll back alone.
    """
    storage = get_storage()
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session, "after_commit", _delete_pending)
        event.listen(session, "after_rollback", lambda s: s.info.get(_PENDING, []).clear())
    pending.extend((storage, key) for key in keys if key)


def _delete_pending(session) -> None:
    pending = session.info.get(_PENDING) or []
    done, pending[:] = list(pending), []
    for storage, key in done:
        try:
            storage.delete(key)
        except Exception:  # the rows are gone already; a leftover object is only wasted space
            log.exception("stored file not deleted", extra={"storage_key": key})


def get_storage(app: Flask | None = None) -> Storage:
    """The application's storage, made from ``settings.storage_dir`` on first use."""
    app = app or current_app
    storage = app.extensions.get(EXTENSION)
    if storage is None:
        settings = app.extensions["motcua"].settings
        storage = app.extensions[EXTENSION] = LocalStorage(storage_root(settings.storage_dir))
    return storage
