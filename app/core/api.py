"""The REST API (flask-smorest): one ``Api`` per app, OpenAPI at ``/api/openapi.json``."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask) -> Api:
    app.config.update(
        API_TITLE="Motcua API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
    )
    api = Api(app)
    app.extensions["motcua.api"] = api
    return api
