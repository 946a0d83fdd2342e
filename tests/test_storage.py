"""The storage interface: round trip, atomic writes, keys that cannot escape, tenant prefixes."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask

from app.core import storage as storage_module
from app.core.config import Settings
from app.core.errors import NotFound
from app.core.storage import (
    InvalidStorageKey,
    LocalStorage,
    get_storage,
    key_safe_name,
    storage_key,
    unique_name,
)


@pytest.fixture
def store(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "root")


def test_round_trip(store: LocalStorage):
    key = "ngo-quyen/dossiers/000.00.23.H99-190415-0001/abc-giay-khai-sinh.pdf"
    assert not store.exists(key)

    store.put(key, b"%PDF-1.4 hello", "application/pdf")

    assert store.exists(key)
    assert store.get(key) == b"%PDF-1.4 hello"
    assert store.size(key) == 14
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # deleting twice is not an error


def test_missing_file_is_a_bilingual_404(store: LocalStorage):
    with pytest.raises(NotFound) as caught:
        store.get("ngo-quyen/none.pdf")
    assert "Không tìm thấy tệp" in caught.value.vi
    assert "File not found" in caught.value.en
    with pytest.raises(NotFound):
        store.size("ngo-quyen/none.pdf")


def test_the_404_does_not_show_the_storage_key(store: LocalStorage):
    key = "ngo-quyen/dossiers/000.00.23.H99-190415-0001/abc-giay-khai-sinh.pdf"
    for read in (store.get, store.size):
        with pytest.raises(NotFound) as caught:
            read(key)
        for text in (caught.value.vi, caught.value.en):
            assert "ngo-quyen" not in text and "H99-190415" not in text and "giay-khai-sinh" not in text


def test_a_key_under_a_file_or_naming_a_folder_is_a_404(store: LocalStorage):
    store.put("ngo-quyen/dossiers/a.pdf", b"%PDF-1.4", "application/pdf")
    with pytest.raises(NotFound):
        store.get("ngo-quyen/dossiers/a.pdf/b.pdf")  # NotADirectoryError underneath
    with pytest.raises(NotFound):
        store.get("ngo-quyen/dossiers")  # IsADirectoryError underneath
    with pytest.raises(NotFound):
        store.size("ngo-quyen/dossiers/a.pdf/b.pdf")
    assert not store.exists("ngo-quyen/dossiers/a.pdf/b.pdf")
    store.delete("ngo-quyen/dossiers/a.pdf/b.pdf")  # nothing there: not an error
    assert store.get("ngo-quyen/dossiers/a.pdf") == b"%PDF-1.4"


def test_overwrite_replaces_whole_file_and_leaves_no_temp_files(store: LocalStorage):
    key = "ngo-quyen/forms/01.pdf"
    store.put(key, b"a" * 10_000, "application/pdf")
    store.put(key, b"short", "application/pdf")

    assert store.get(key) == b"short"
    assert sorted(p.name for p in (store.root / "ngo-quyen" / "forms").iterdir()) == ["01.pdf"]


def test_failed_write_keeps_the_previous_file(store: LocalStorage, monkeypatch):
    key = "ngo-quyen/forms/01.pdf"
    store.put(key, b"old version", "application/pdf")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(storage_module.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.put(key, b"new version", "application/pdf")

    assert store.get(key) == b"old version"
    assert sorted(p.name for p in (store.root / "ngo-quyen" / "forms").iterdir()) == ["01.pdf"]


@pytest.mark.parametrize(
    "key",
    [
        "../outside.txt",
        "ngo-quyen/../../outside.txt",
        "ngo-quyen/..",
        "/etc/passwd",
        "ngo-quyen\\..\\outside.txt",
        "ngo-quyen//x",
        "ngo-quyen/./x",
        "C:/windows/x",
        "ngo-quyen/a\x00b",
        "",
    ],
)
def test_traversal_and_odd_keys_are_refused(store: LocalStorage, key: str):
    for call in (
        lambda: store.put(key, b"x", "text/plain"),
        lambda: store.get(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: store.size(key),
    ):
        with pytest.raises(InvalidStorageKey) as caught:
            call()
        assert caught.value.status == 400
    assert not (store.root.parent / "outside.txt").exists()


def test_symlink_out_of_the_root_is_refused(store: LocalStorage, tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    store.root.mkdir(parents=True)
    os.symlink(outside, store.root / "ngo-quyen")

    with pytest.raises(InvalidStorageKey):
        store.put("ngo-quyen/x.pdf", b"x", "application/pdf")
    assert list(outside.iterdir()) == []


def test_tenant_prefixes_never_overlap():
    first = storage_key("ngo-quyen", "dossiers", "000.00.23.H99-190415-0001", "a.pdf")
    second = storage_key("ngo-quyen-2", "dossiers", "000.00.23.H99-190415-0001", "a.pdf")

    assert first == "ngo-quyen/dossiers/000.00.23.H99-190415-0001/a.pdf"
    assert second.startswith("ngo-quyen-2/")
    assert not second.startswith("ngo-quyen/")
    assert not first.startswith("ngo-quyen-2/")


@pytest.mark.parametrize(
    ("slug", "parts"),
    [
        ("../ngo-quyen", ("a",)),
        ("Ngo Quyen", ("a",)),
        ("", ("a",)),
        ("ngo-quyen", ()),
        ("ngo-quyen", ("dossiers/../../other", "a")),
        ("ngo-quyen", ("..",)),
        ("ngo-quyen", ("",)),
    ],
)
def test_storage_key_refuses_bad_parts(slug, parts):
    with pytest.raises(InvalidStorageKey):
        storage_key(slug, *parts)


def test_unique_names_are_ascii_and_distinct():
    first, second = unique_name("Giấy khai sinh (bản sao).PDF"), unique_name("Giấy khai sinh (bản sao).PDF")

    assert first != second
    assert first.endswith("-giay-khai-sinh-ban-sao.pdf")
    assert first.isascii()
    assert key_safe_name("Đơn đề nghị.docx") == "don-de-nghi.docx"
    assert key_safe_name("../..") == "tep"
    storage_key("ngo-quyen", "dossiers", "ref", first)  # always a valid part


def test_get_storage_is_made_once_from_settings(tmp_path: Path):
    app = Flask(__name__)
    app.extensions["motcua"] = SimpleNamespace(settings=Settings(storage_dir=str(tmp_path / "files")))

    with app.app_context():
        made = get_storage()
        assert get_storage() is made
    assert isinstance(made, LocalStorage)
    assert made.root == (tmp_path / "files").resolve()


def test_relative_storage_dir_is_under_the_repository():
    app = Flask(__name__)
    app.extensions["motcua"] = SimpleNamespace(settings=Settings())

    made = get_storage(app)

    assert made.root == (Path(__file__).resolve().parents[1] / "var" / "storage").resolve()


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("STORAGE_DIR", "/srv/motcua/files")
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "2097152")

    settings = Settings.from_env()

    assert settings.storage_dir == "/srv/motcua/files"
    assert settings.max_upload_bytes == 2 * 1024 * 1024
    assert Settings().max_upload_bytes == 10 * 1024 * 1024
