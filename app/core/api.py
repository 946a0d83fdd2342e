"""The REST API (flask-smorest): one ``Api`` per app, OpenAPI at ``/api/openapi.json``, docs at ``/api/docs``.

The interactive docs are Swagger UI served from our own host (the
``swagger-ui-bundle`` package ships its files): officials' browsers and our
servers may have no internet, so nothing is loaded from a CDN.
"""

from __future__ import annotations

from flask import Flask, abort, send_from_directory
from flask_smorest import Api
from marshmallow import Schema, fields
from swagger_ui_bundle import swagger_ui_path

DOCS_ASSETS_URL = "/api/docs/assets/"
# The only files the docs page loads; anything else under the assets URL is a 404.
DOCS_ASSETS = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"}
)
BEARER = "bearerAuth"


class ErrorSchema(Schema):
    """The one error shape of the API (app.core.errors)."""

    code = fields.Integer(metadata={"description": "the HTTP status"})
    status = fields.String(metadata={"description": "the status in words (English)"})
    message = fields.String(metadata={"description": "in the caller's language (?lang=vi|en)"})
    message_vi = fields.String()
    message_en = fields.String()
    errors = fields.Dict(metadata={"description": "per field, when the input was wrong"})


class MotcuaApi(Api):
    ERROR_SCHEMA = ErrorSchema


def init_app(app: Flask) -> Api:
    app.config.update(
        API_TITLE="Motcua API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL=DOCS_ASSETS_URL,
        OPENAPI_SWAGGER_UI_CONFIG={"deepLinking": True, "displayRequestDuration": True},
        API_SPEC_OPTIONS={
            "info": {
                "description": (
                    "API của Hệ thống một cửa điện tử Motcua, theo từng đơn vị (tên miền của đơn vị). "
                    "Xác thực bằng khóa API của đơn vị (Authorization: Bearer mc_…) hoặc phiên đăng nhập "
                    "bộ phận một cửa (kèm tiêu đề X-CSRF-Token cho POST/PUT/PATCH). "
                    "Motcua one-stop-shop API, per unit (the unit's host name). Authenticate with the "
                    "unit's API token (Authorization: Bearer mc_…) or a back-office session (with the "
                    "X-CSRF-Token header on POST/PUT/PATCH). Errors share one JSON shape: code, status, "
                    "message, message_vi, message_en, errors. Dossier actions need If-Match with the "
                    "dossier's ETag."
                )
            },
            "security": [{BEARER: []}],
        },
    )
    api = MotcuaApi(app)
    api.spec.components.security_scheme(
        BEARER,
        {"type": "http", "scheme": "bearer", "description": "API token of the unit: mc_<prefix>_<secret>"},
    )
    app.add_url_rule(f"{DOCS_ASSETS_URL}<path:filename>", endpoint="api_docs_asset", view_func=_docs_asset)
    app.extensions["motcua.api"] = api
    return api


def _docs_asset(filename: str):
    if filename not in DOCS_ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_path, filename, max_age=24 * 3600)
