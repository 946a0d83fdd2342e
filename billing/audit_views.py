"""The city audit console (issue #6): read-only pages and JSON for a ``city_auditor`` (or
provider ops) on the console host, under ``/audit``.

- ``/audit/`` usage per unit and metric against the contract's quotas, with a chart per metric
  over the months (server-rendered SVG with a title, a description and the data table beside it);
- ``/audit/contracts`` every contract with its seats and price plan;
- ``/audit/invoices`` -> ``/audit/invoices/<id>`` (and its PDF, CSV, XLSX and raw usage JSON
  lines) -> ``/audit/lines/<id>`` (frozen fact snapshots next to the facts as they are now)
  -> ``/audit/facts/<id>`` (the fact's raw events, paged);
- ``/audit/recount`` the independent recount of a period (billing/recount.py), differences first;
- ``/audit/lag`` aggregation lag per shard and the last verify;
- ``/audit/log`` who looked at what in this console.

Every view first commits its own audit row (``billing_audit_view``), then makes the rest of the
request's platform transaction read-only; shard reads are read-only transactions too. So the
console cannot change anything, by PostgreSQL's refusal rather than by care. The JSON endpoints
(``*.json``) return the same dicts the pages show.
"""

from __future__ import annotations

import functools
from datetime import timedelta

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from app.audit.platform import record
from app.auth.access import SignInRequired, csrf_token, current_auditor
from app.core.db import platform_db
from app.core.errors import DomainError
from app.core.sites import CONSOLE
from app.core.usage import METRICS
from billing import audit_data as data
from billing import invoice_downloads

blp = Blueprint("billing_audit", __name__, subdomain=CONSOLE, url_prefix="/audit")
# The console menu shows a city auditor only these of CONSOLE_LINKS (app/templates/console/_layout.html).
blp.record_once(
    lambda state: state.app.config.setdefault("CONSOLE_AUDITOR_LINKS", []).append("billing_audit.usage")
)

CHART_HEIGHT = 160
BAR_WIDTH = 28
BAR_GAP = 14
CHART_LEFT = 8
CHART_TOP = 16


# --- access and the audit of every view --------------------------------------------


def _is_json() -> bool:
    return request.path.endswith(".json")


def _record_view(auditor) -> None:
    """Commit one audit row for this view, then keep the request's transaction read-only."""
    session = platform_db()
    session.commit()  # the sign-in check's reads; nothing was written
    args = request.view_args or {}
    short = (request.endpoint or "").rsplit(".", 1)[-1]
    entity_id = ":".join([short, *(str(v) for v in args.values())])[:64]
    record(
        session,
        entity=data.AUDIT_ENTITY,
        entity_id=entity_id,
        action="view",
        actor_account_id=auditor.id,
        actor_label=auditor.email,
        data={"path": _storable(request.path), "params": _stored_params()},
    )
    session.commit()
    data.make_read_only(session)


def _storable(value: str) -> str:
    """``value`` as JSONB can hold it (PostgreSQL refuses U+0000: the row would not be written)."""
    return value.replace("\x00", "\\x00")


def _stored_params() -> dict[str, list[str]]:
    return {_storable(k): [_storable(v) for v in vs] for k, vs in request.args.to_dict(flat=False).items()}


def _check_params() -> None:
    """A NUL in a parameter is refused (400) after the view was recorded, never sent to PostgreSQL."""
    if any("\x00" in key or any("\x00" in v for v in values) for key, values in request.args.lists()):
        raise data.BadAuditQuery(
            "Tham số có ký tự không hợp lệ (NUL)", "a parameter holds an invalid character (NUL)"
        )


def audited(view):
    """Auditor or provider ops only; anonymous people go to sign-in (JSON: 401); the view is audited."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            auditor = current_auditor(CONSOLE)
        except SignInRequired as exc:
            if _is_json():
                return _json_error(exc)
            return redirect(url_for("console.login_form", next=request.full_path.rstrip("?")))
        except DomainError as exc:
            if _is_json():
                return _json_error(exc)
            raise
        _record_view(auditor)
        try:
            _check_params()
            return view(auditor, *args, **kwargs)
        except DomainError as exc:
            if _is_json():
                return _json_error(exc)
            raise

    return wrapper


def _json_error(exc: DomainError):
    body = {"code": exc.status, "message_vi": exc.vi, "message_en": exc.en}
    return jsonify(body), exc.status


def _page(template: str, auditor, **context):
    return render_template(
        template,
        ops=auditor,
        csrf_token=csrf_token(),
        metrics=METRICS,
        num=_num,
        **context,
    )


def _num(value) -> str:
    """1234567 -> "1.234.567" (Vietnamese grouping); None -> "—"."""
    if value is None:
        return "—"
    return f"{int(value):,}".replace(",", ".")


MAX_PAGE = 1_000_000  # far past any page of events or audit rows; (page - 1) * 100 fits a BIGINT offset


def _int_arg(name: str, default: int, high: int = MAX_PAGE) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise data.BadAuditQuery(
            f"Giá trị {name} không hợp lệ: {raw!r}", f"invalid {name}: {raw!r}"
        ) from None
    if not 1 <= value <= high:
        raise data.BadAuditQuery(f"{name} phải từ 1 đến {high}", f"{name} must be 1 to {high}")
    return value


# --- usage ----------------------------------------------------------------------------


def _usage_report():
    session = platform_db()
    month = data.parse_month(request.args.get("month"))
    months = _int_arg("months", 6, high=data.MAX_CHART_MONTHS)
    slug = request.args.get("tenant") or None
    tenant = data.tenant_by_slug(session, slug) if slug else None
    metric = data.check_metric(request.args.get("metric"))
    return data.usage_report(session, month, months=months, tenant=tenant, metric=metric)


USAGE_FILTERS = ("month", "months", "tenant", "metric")


def chart(series: dict) -> dict:
    """Bar geometry of one metric's monthly series (the quota as a tick over each bar)."""
    points = series["points"]
    top = max([p["quantity"] for p in points] + [p["quota"] or 0 for p in points] + [1])
    bars = []
    for i, p in enumerate(points):
        height = round(CHART_HEIGHT * p["quantity"] / top, 1)
        x = CHART_LEFT + i * (BAR_WIDTH + BAR_GAP)
        quota_y = None
        if p["quota"] is not None:
            quota_y = round(CHART_TOP + CHART_HEIGHT - CHART_HEIGHT * p["quota"] / top, 1)
        bars.append(
            {
                **p,
                "x": x,
                "y": round(CHART_TOP + CHART_HEIGHT - height, 1),
                "height": height,
                "quota_y": quota_y,
                "over": p["quota"] is not None and p["quantity"] > p["quota"],
            }
        )
    width = CHART_LEFT * 2 + len(points) * (BAR_WIDTH + BAR_GAP)
    return {
        "metric": series["metric"],
        "bars": bars,
        "width": width,
        "height": CHART_TOP + CHART_HEIGHT + 34,
        "base_y": CHART_TOP + CHART_HEIGHT,
        "bar_width": BAR_WIDTH,
    }


@blp.get("/")
@audited
def usage(auditor):
    report = _usage_report()
    session = platform_db()
    return _page(
        "billing/audit_usage.html",
        auditor,
        report=report,
        charts=[chart(s) for s in report["series"]],
        tenants=data.all_tenants(session),
        selected_metric=request.args.get("metric") or "",
        months_count=len(report["months"]),
        # The JSON link repeats the filters only: every query parameter given to url_for let
        # ``endpoint=``/``_scheme=`` crash it and ``_external``/``_anchor`` choose the link.
        filters={k: request.args[k] for k in USAGE_FILTERS if request.args.get(k)},
    )


@blp.get("/usage.json")
@audited
def usage_json(auditor):
    return jsonify(data.usage_json(_usage_report()))


def _facts_query():
    session = platform_db()
    tenant = data.tenant_by_slug(session, request.args.get("tenant") or "")
    metric = data.check_metric(request.args.get("metric"))
    if metric is None:
        raise data.BadAuditQuery("Cần chọn chỉ số", "a metric is required")
    month = data.parse_month(request.args.get("month"))
    facts = data.facts_of(session, tenant, metric, month, data.next_month(month))
    return tenant, metric, month, facts


@blp.get("/facts")
@audited
def facts(auditor):
    tenant, metric, month, rows = _facts_query()
    return _page(
        "billing/audit_facts.html",
        auditor,
        tenant=tenant,
        metric=metric,
        month=month.strftime("%Y-%m"),
        facts=rows,
    )


@blp.get("/facts.json")
@audited
def facts_json(auditor):
    tenant, metric, month, rows = _facts_query()
    return jsonify(
        {
            "tenant": tenant.slug,
            "metric": metric,
            "month": month.strftime("%Y-%m"),
            "facts": [data.fact_dict(f) for f in rows],
        }
    )


@blp.get("/facts/<int:fact_id>")
@audited
def fact_detail(auditor, fact_id: int):
    detail = data.fact_events(platform_db(), fact_id, _int_arg("page", 1))
    return _page("billing/audit_fact.html", auditor, d=detail)


@blp.get("/facts/<int:fact_id>.json")
@audited
def fact_json(auditor, fact_id: int):
    return jsonify(data.fact_events(platform_db(), fact_id, _int_arg("page", 1)))


# --- invoices ------------------------------------------------------------------------


@blp.get("/invoices")
@audited
def invoices(auditor):
    return _page("billing/audit_invoices.html", auditor, invoices=data.list_invoices(platform_db()))


@blp.get("/invoices.json")
@audited
def invoices_json(auditor):
    return jsonify({"invoices": data.list_invoices(platform_db())})


@blp.get("/invoices/<int:invoice_id>")
@audited
def invoice_detail(auditor, invoice_id: int):
    return _page("billing/audit_invoice.html", auditor, d=data.invoice_detail(platform_db(), invoice_id))


@blp.get("/invoices/<int:invoice_id>.json")
@audited
def invoice_json(auditor, invoice_id: int):
    return jsonify(data.invoice_detail(platform_db(), invoice_id))


@blp.get(f"/invoices/<int:invoice_id>/<{invoice_downloads.FILE_NAMES}:name>")
@audited
def invoice_file(auditor, invoice_id: int, name: str):
    """One of the invoice's files (PDF, CSV, XLSX, the period's raw usage) for the auditor to keep."""
    return invoice_downloads.download(platform_db(), invoice_id, name)


@blp.get("/lines/<int:line_id>")
@audited
def line_detail(auditor, line_id: int):
    return _page("billing/audit_line.html", auditor, d=data.line_facts(platform_db(), line_id))


@blp.get("/lines/<int:line_id>.json")
@audited
def line_json(auditor, line_id: int):
    return jsonify(data.line_facts(platform_db(), line_id))


@blp.get("/contracts")
@audited
def contracts(auditor):
    return _page("billing/audit_contracts.html", auditor, contracts=data.contracts_overview(platform_db()))


@blp.get("/contracts.json")
@audited
def contracts_json(auditor):
    return jsonify({"contracts": data.contracts_overview(platform_db())})


# --- recount, lag, the console's own audit -------------------------------------------------


def _recount_query():
    """(first day, end day exclusive, tenant or None) from ``month`` or ``from``/``to``."""
    session = platform_db()
    if request.args.get("from") or request.args.get("to"):
        first = data.parse_day(request.args.get("from"), "from")
        end = data.parse_day(request.args.get("to"), "to") + timedelta(days=1)
    else:
        first = data.parse_month(request.args.get("month"))
        end = data.next_month(first)
    slug = request.args.get("tenant") or None
    tenant = data.tenant_by_slug(session, slug) if slug else None
    return first, end, tenant


@blp.get("/recount")
@audited
def recount(auditor):
    result = None
    first, end, tenant = _recount_query()
    if request.args.get("run"):
        result = data.recount_period(first, end, [tenant.id] if tenant else None)
    return _page(
        "billing/audit_recount.html",
        auditor,
        result=result,
        first=first,
        last=end - timedelta(days=1),
        tenant=tenant,
        tenants=data.all_tenants(platform_db()),
    )


@blp.get("/recount.json")
@audited
def recount_json(auditor):
    first, end, tenant = _recount_query()
    return jsonify(data.recount_period(first, end, [tenant.id] if tenant else None))


@blp.get("/lag")
@audited
def lag(auditor):
    session = platform_db()
    return _page(
        "billing/audit_lag.html",
        auditor,
        shards=data.aggregation_lag(session),
        verify=data.last_verify(session),
    )


@blp.get("/lag.json")
@audited
def lag_json(auditor):
    session = platform_db()
    return jsonify({"shards": data.aggregation_lag(session), "last_verify": data.last_verify(session)})


@blp.get("/log")
@audited
def log(auditor):
    return _page("billing/audit_log.html", auditor, log=data.audit_log(platform_db(), _int_arg("page", 1)))


@blp.get("/log.json")
@audited
def log_json(auditor):
    return jsonify(data.audit_log(platform_db(), _int_arg("page", 1)))
