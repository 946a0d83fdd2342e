"""``/api/v1/billing/contracts`` on the provider console's host: list, read and create lease contracts.

There is no platform-level API token (API tokens belong to one unit), so this API
authenticates with the provider console's session, like the console's pages: a provider
ops account signed in on the console host; POST also needs the session's CSRF token in
the ``X-CSRF-Token`` header. No session: 401; another account: 403. The rules and the
refusals (422, 409) are those of billing/contracts.py, in the API's one error shape.
"""

from __future__ import annotations

import functools

from flask import request, session
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.auth.access import CSRF_KEY, CsrfFailed, current_ops, same_secret
from app.core.db import platform_db
from app.core.sites import CONSOLE
from billing import contracts

CSRF_HEADER = "X-CSRF-Token"

blp = Blueprint(
    "billing_contracts_api",
    __name__,
    url_prefix="/api/v1/billing",
    subdomain=CONSOLE,
    description=(
        "Hợp đồng thuê (máy chủ bảng điều khiển, phiên đăng nhập vận hành) / "
        "lease contracts (console host, provider ops session; POST needs X-CSRF-Token)"
    ),
)


def ops_api(view):
    """Authenticate the console session (401/403 as JSON) and check the CSRF header on writes."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        ops = current_ops(CONSOLE)  # SignInRequired: 401, another account: 403 (JSON under /api/)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            sent, expected = request.headers.get(CSRF_HEADER, ""), session.get(CSRF_KEY, "")
            if not sent or not expected or not same_secret(sent, expected):
                raise CsrfFailed(
                    f"Thiếu hoặc sai mã bảo mật: gửi tiêu đề {CSRF_HEADER} bằng mã CSRF của phiên đăng nhập.",
                    f"Missing or wrong security token: send the {CSRF_HEADER} header "
                    "with the session's CSRF token.",
                )
        return view(*args, ops=ops, **kwargs)

    return wrapper


class TierSchema(Schema):
    up_to = fields.Integer(allow_none=True, metadata={"description": "units above the quota; null: no limit"})
    unit_price = fields.Integer(metadata={"description": "đồng per unit"})


class PlanMetricSchema(Schema):
    metric = fields.String(metadata={"description": "a key of `flask billing metrics`"})
    included = fields.Integer(metadata={"description": "quota per unit per month"})
    tiers = fields.List(fields.Nested(TierSchema))


class PlanSchema(Schema):
    name = fields.String()
    setup_fee = fields.Integer(metadata={"description": "đồng per onboarded unit"})
    discount_bp = fields.Integer(metadata={"description": "basis points on the subtotal: 1000 = 10 %"})
    unit_fees = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "kind -> đồng/month"}
    )
    metrics = fields.List(fields.Nested(PlanMetricSchema))


class ContractInSchema(Schema):
    number = fields.String()
    provider_party = fields.String()
    city_party = fields.String()
    city_tenant_id = fields.Integer(allow_none=True)
    starts_on = fields.Date(metadata={"description": "first day (Asia/Ho_Chi_Minh)"})
    ends_on = fields.Date(metadata={"description": "the day AFTER the last one (exclusive)"})
    currency = fields.String(metadata={"description": "VND only"})
    billing_period = fields.String(metadata={"description": "monthly | quarterly"})
    sla_target_bp = fields.Integer(metadata={"description": "basis points: 9950 = 99.5 %"})
    grace_days = fields.Integer()
    seats = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "kind -> seats"}
    )
    plan = fields.Nested(PlanSchema)


class ContractOutSchema(ContractInSchema):
    id = fields.Integer()
    in_force = fields.Boolean(metadata={"description": "the term holds today"})
    finalized_until = fields.Date(
        allow_none=True, metadata={"description": "end (exclusive) of final invoices"}
    )
    periods = fields.List(
        fields.List(fields.Date()), metadata={"description": "[start, end_exclusive] pairs"}
    )


def _out(contract) -> dict:
    today = contracts.vn_today()
    data = contracts.snapshot(contract)
    data["in_force"] = contract.starts_on <= today < contract.ends_on
    data["finalized_until"] = contracts.finalized_until(platform_db(), contract.id)
    data["periods"] = [[start, end] for start, end in contracts.periods(contract)]
    for key in ("starts_on", "ends_on"):
        data[key] = getattr(contract, key)
    return data


@blp.route("/contracts")
class Contracts(MethodView):
    @ops_api
    @blp.response(200, ContractOutSchema(many=True))
    @blp.alt_response(401, description="no console session")
    @blp.alt_response(403, description="not a provider ops account")
    def get(self, ops):
        """Every contract, newest term first."""
        return [_out(c) for c in contracts.list_contracts(platform_db())]

    @ops_api
    @blp.arguments(ContractInSchema)
    @blp.response(201, ContractOutSchema)
    @blp.alt_response(400, description="no X-CSRF-Token header")
    @blp.alt_response(409, description="the term overlaps another contract, or the number is taken")
    @blp.alt_response(422, description="invalid contract or plan (field paths in errors)")
    def post(self, data: dict, ops):
        """Create a contract with its seats and price plan (audited)."""
        session = platform_db()
        try:
            contract = contracts.create_contract(
                session, data, actor_account_id=ops.id, actor_label=ops.email
            )
            session.commit()
        except Exception:
            session.rollback()
            raise
        return _out(contracts.get_contract(session, contract.id))


@blp.route("/contracts/<int:contract_id>")
class ContractById(MethodView):
    @ops_api
    @blp.response(200, ContractOutSchema)
    @blp.alt_response(404, description="no such contract")
    def get(self, contract_id: int, ops):
        """One contract with its seats, plan and billing periods."""
        return _out(contracts.get_contract(platform_db(), contract_id))
