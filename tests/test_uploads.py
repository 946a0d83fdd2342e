"""Upload checks on real file bytes: type by content, size, forged names, safe names."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from PIL import Image
from pypdf import PdfWriter

from app.core import uploads
from app.core.uploads import DOCX_TYPE, UploadRejected, check_upload, sanitize_filename

MB = 1024 * 1024


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (30, 30, 200)).save(out, format="JPEG")
    return out.getvalue()


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=419.53, height=595.28)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(extra_entries: int = 0) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Override PartName="/word/document.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            "</Types>",
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        )
        archive.writestr(
            "word/document.xml",
            '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
            'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Đơn đề nghị</w:t></w:r></w:p></w:body>'
            "</w:document>",
        )
        for index in range(extra_entries):
            archive.writestr(f"word/media/{index}.xml", "<x/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "content_type", "stored_name"),
    [
        ("Giấy khai sinh (bản sao).PDF", pdf_bytes, "application/pdf", "Giấy khai sinh (bản sao).pdf"),
        ("ảnh chân dung.jpg", jpeg_bytes, "image/jpeg", "ảnh chân dung.jpg"),
        ("SCAN 01.JPEG", jpeg_bytes, "image/jpeg", "SCAN 01.jpeg"),
        ("sổ hộ khẩu.png", png_bytes, "image/png", "sổ hộ khẩu.png"),
        ("Đơn đề nghị.docx", docx_bytes, DOCX_TYPE, "Đơn đề nghị.docx"),
    ],
)
def test_allowed_types_are_accepted_from_their_content(name, make, content_type, stored_name):
    data = make()

    checked = check_upload(name, data, max_bytes=MB)

    assert checked.content_type == content_type
    assert checked.filename == stored_name
    assert checked.size == len(data)
    assert checked.sha256 == hashlib.sha256(data).hexdigest()
    assert checked.data == data


def rejected(name: str, data: bytes, *, max_bytes: int = MB) -> UploadRejected:
    with pytest.raises(UploadRejected) as caught:
        check_upload(name, data, max_bytes=max_bytes)
    return caught.value


def test_png_named_pdf_is_refused_as_forged():
    error = rejected("giay-khai-sinh.pdf", png_bytes())

    assert error.status == 415
    assert "không khớp với nội dung" in error.vi
    assert "PNG" in error.vi
    assert "PDF, JPEG, PNG, DOCX" in error.vi
    assert "does not match the content" in error.en
    assert "PDF, JPEG, PNG, DOCX" in error.en


def test_pdf_named_docx_and_name_without_extension_are_refused():
    assert rejected("don.docx", pdf_bytes()).status == 415
    assert rejected("passwd", png_bytes()).status == 415


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100),
        ("trang.html", b"<!DOCTYPE html><html><script>alert(1)</script></html>"),
        ("trang.pdf", b"<html><body>not a pdf</body></html>"),
        ("nen.docx", b"PK\x03\x04 this is not really a zip"),
    ],
)
def test_unknown_types_are_refused_naming_the_allowed_ones(name, data):
    error = rejected(name, data)

    assert error.status == 415
    assert "Chỉ nhận tệp PDF, JPEG, PNG, DOCX" in error.vi
    assert "Only PDF, JPEG, PNG, DOCX files are accepted" in error.en


def test_plain_zip_is_not_a_docx():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")

    assert rejected("tai-lieu.docx", out.getvalue()).status == 415


def _patched_directory(data: bytes, offset: int, value: bytes) -> bytes:
    """``data`` with bytes at ``offset`` of its first central directory entry replaced."""
    at = data.index(b"PK\x01\x02") + offset
    return data[:at] + value + data[at + len(value) :]


@pytest.mark.parametrize(
    "crafted",
    [
        # "version needed to extract" 25.5: zipfile raises NotImplementedError reading the directory.
        pytest.param(lambda d: _patched_directory(d, 6, b"\xff\x00"), id="unsupported-version"),
        # The first entry's name length pointing past the end of the directory.
        pytest.param(lambda d: _patched_directory(d, 28, b"\xff\xff"), id="name-past-the-end"),
    ],
)
def test_crafted_zip_directory_is_refused_not_a_crash(crafted):
    error = rejected("don-de-nghi.docx", crafted(docx_bytes()))
    assert error.status == 415
    assert "Only PDF, JPEG, PNG, DOCX files are accepted" in error.en


def test_zip_bomb_docx_is_refused(monkeypatch):
    assert rejected("many.docx", docx_bytes(extra_entries=uploads.DOCX_MAX_ENTRIES)).status == 415

    big = docx_bytes()
    monkeypatch.setattr(uploads, "DOCX_MAX_INFLATED", 200)  # the three parts inflate to more than this
    assert rejected("big.docx", big).status == 415


def test_empty_file_is_422():
    error = rejected("giay-khai-sinh.pdf", b"")

    assert error.status == 422
    assert "rỗng" in error.vi
    assert "empty" in error.en


def test_oversize_file_is_413_naming_the_limit():
    data = png_bytes()
    data += b"\x00" * (MB + 1 - len(data))  # trailing bytes after IEND: still a PNG by content

    error = rejected("anh.png", data, max_bytes=MB)

    assert error.status == 413
    assert "tối đa là 1 MB" in error.vi
    assert "The limit is 1 MB" in error.en
    assert check_upload("anh.png", data[:MB], max_bytes=MB).size == MB  # exactly the limit passes


def test_ten_megabyte_limit_is_named():
    error = rejected("anh.png", png_bytes() + b"\x00" * (10 * MB), max_bytes=10 * MB)

    assert "10 MB" in error.vi
    assert "10 MB" in error.en


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\Huong\\Desktop\\Giấy khai sinh.pdf", "Giấy khai sinh.pdf"),
        ("Giấy khai sinh (bản sao).PDF", "Giấy khai sinh (bản sao).pdf"),
        ("Gia\u0301y to\u031b\u0300.pdf", "Giáy tờ.pdf"),  # decomposed (macOS) becomes composed
        ("bản\x00sao\x1f\u200b.pdf", "bảnsao.pdf"),
        ("tab\tand\nnewline.png", "tab and newline.png"),
        ('a<b>c:d"e|f?g*h.png', "abcdefgh.png"),
        ("   nhiều     khoảng   trắng   .docx", "nhiều khoảng trắng.docx"),
        ("...ẩn.pdf", "ẩn.pdf"),
        ("con.pdf", "_con.pdf"),
        ("???.pdf", "tep-dinh-kem.pdf"),
        ("..", "tep-dinh-kem.pdf"),
        ("", "tep-dinh-kem.pdf"),
    ],
)
def test_names_are_sanitised(raw, clean):
    assert sanitize_filename(raw, fallback_ext=".pdf") == clean


def test_long_names_are_cut_keeping_the_extension():
    name = sanitize_filename("Đơn " * 100 + ".docx")

    assert name.endswith(".docx")
    assert len(name) <= uploads.MAX_NAME_CHARS + len(".docx")


def test_checked_name_falls_back_when_nothing_is_left():
    checked = check_upload("???.png", png_bytes(), max_bytes=MB)

    assert checked.filename == "tep-dinh-kem.png"


def test_path_in_upload_name_is_dropped():
    checked = check_upload("../../var/www/ảnh.png", png_bytes(), max_bytes=MB)

    assert checked.filename == "ảnh.png"
