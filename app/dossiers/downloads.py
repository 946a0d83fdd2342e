"""File responses of the dossier pages and API: any file name, safe headers.

Werkzeug's ``send_file`` writes a non-ASCII name the RFC 5987 way
(``filename="to khai.png"; filename*=UTF-8''t%E1%BB%9D%20khai.png``), so the
header stays ASCII (gunicorn encodes headers as latin-1 and refuses anything else).
"""

from __future__ import annotations

import io

from flask import Response, send_file


def download(data: bytes, mimetype: str, filename: str, *, inline: bool = False) -> Response:
    """``data`` as a file named ``filename``: shown in the browser (inline) or saved (attachment)."""
    response = send_file(
        io.BytesIO(data), mimetype=mimetype, as_attachment=not inline, download_name=filename, etag=False
    )
    # Applicants' data: never kept by a shared cache, never sniffed into another type.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
