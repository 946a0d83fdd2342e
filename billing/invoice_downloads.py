"""An invoice's files as HTTP downloads, for the ops console and the audit console alike."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response
from sqlalchemy.orm import Session

from app.core.db import get_platform
from billing import invoice_exports
from billing.invoices import get_invoice
from billing.models import Contract

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _lines_csv(session, invoice, _contract) -> bytes:
    return invoice_exports.lines_csv(session, invoice)


def _usage(session, invoice, contract) -> bytes:
    return b"".join(invoice_exports.usage_jsonl(session, get_platform().shards, invoice, contract))


# file name in the URL -> (suffix of the saved file, media type, maker(session, invoice, contract))
FILES = {
    "invoice.pdf": (".pdf", "application/pdf", invoice_exports.invoice_pdf),
    "lines.csv": (
        ".csv",
        "text/csv",
        lambda session, invoice, _c: invoice_exports.lines_csv(session, invoice),
    ),
    "lines.xlsx": (".xlsx", XLSX, invoice_exports.lines_xlsx),
    "usage.jsonl": ("-usage.jsonl", "application/x-ndjson", _usage),
}
# The route converter of a file name: /<int:invoice_id>/<FILE_NAMES:name>
FILE_NAMES = "any(" + ", ".join(f"'{name}'" for name in FILES) + ")"


def download(session: Session, invoice_id: int, name: str) -> Response:
    """Invoice ``invoice_id``'s file ``name`` (a key of FILES) as an attachment; 404 without the invoice."""
    suffix, mimetype, make = FILES[name]
    invoice = get_invoice(session, invoice_id)
    contract = session.get(Contract, invoice.contract_id)
    saved_as = invoice_exports.file_stem(invoice) + suffix
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(saved_as, safe='')}"}
    return Response(make(session, invoice, contract), mimetype=mimetype, headers=headers)
