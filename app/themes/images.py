"""Logo and banner images: PNG, JPEG or WebP by their content, within a size and sane dimensions.

Pillow opens the bytes (the name and the browser's Content-Type are ignored); an
SVG, an HTML page or anything else Pillow does not read as one of the three
formats is refused. Accepted files are stored under the tenant's prefix
(``<slug>/theme/<uuid>.<ext>``) and named in the tokens by ``<uuid>.<ext>`` only,
so the image route can build the key from the current tenant alone.
"""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from app.core.errors import DomainError
from app.core.storage import Storage, storage_key
from app.core.uploads import sanitize_filename

MAX_BYTES = 1024 * 1024
MIN_SIDE = 16
MAX_SIDE = 4000
MAX_PIXELS = 8_000_000
FORMATS = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg"), "WEBP": ("webp", "image/webp")}
CONTENT_TYPES = {ext: content_type for ext, content_type in FORMATS.values()}
FOLDER = "theme"


class ImageRejected(DomainError):
    status = 422


@dataclass(frozen=True)
class CheckedImage:
    ext: str
    content_type: str
    width: int
    height: int
    data: bytes


def check_image(filename: str, data: bytes) -> CheckedImage:
    """Accept a PNG, JPEG or WebP of at most 1 MB and 16–4000 px a side, or raise ``ImageRejected``."""
    shown = sanitize_filename(filename)
    if not data:
        raise ImageRejected(f"Tệp “{shown}” rỗng.", f"File “{shown}” is empty.")
    if len(data) > MAX_BYTES:
        raise ImageRejected(
            f"Ảnh “{shown}” quá lớn ({len(data) // 1024} KB); tối đa {MAX_BYTES // 1024} KB.",
            f"Image “{shown}” is too large ({len(data) // 1024} KB); at most {MAX_BYTES // 1024} KB.",
            status=413,
        )
    refused = ImageRejected(
        f"Tệp “{shown}” không phải ảnh PNG, JPEG hoặc WebP (kiểm tra theo nội dung tệp; không nhận SVG).",
        f"File “{shown}” is not a PNG, JPEG or WebP image (checked by its content; SVG is not accepted).",
        status=415,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
                kind, (width, height) = image.format, image.size
                image.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise refused from None
    except Exception:  # a truncated or crafted file Pillow cannot finish reading
        raise refused from None
    if kind not in FORMATS:
        raise refused
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE) or width * height > MAX_PIXELS:
        raise ImageRejected(
            f"Ảnh “{shown}” có kích thước {width}×{height} px; "
            f"mỗi cạnh phải từ {MIN_SIDE} đến {MAX_SIDE} px.",
            f"Image “{shown}” is {width}×{height} px; each side must be {MIN_SIDE} to {MAX_SIDE} px.",
        )
    ext, content_type = FORMATS[kind]
    return CheckedImage(ext, content_type, width, height, data)


def image_key(tenant_slug: str, name: str) -> str:
    return storage_key(tenant_slug, FOLDER, name)


def store_image(storage: Storage, tenant_slug: str, image: CheckedImage) -> str:
    """Store the image under the tenant's prefix; returns the name the tokens keep."""
    name = f"{uuid.uuid4().hex}.{image.ext}"
    storage.put(image_key(tenant_slug, name), image.data, image.content_type)
    return name
