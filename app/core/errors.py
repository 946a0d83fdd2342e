"""One error shape for the API, friendly pages for people; both bilingual."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from app.core.i18n import tr


class DomainError(Exception):
    """A rule of the domain said no. ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, vi: str, en: str, *, status: int | None = None, errors: dict | None = None):
        super().__init__(f"{vi} / {en}")
        self.vi, self.en = vi, en
        self.errors = errors or {}
        if status is not None:
            self.status = status


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


# Bilingual defaults for plain HTTP errors.
_HTTP_TEXT = {
    400: ("Yêu cầu không hợp lệ", "Bad request"),
    401: ("Cần đăng nhập", "Sign-in required"),
    403: ("Không có quyền truy cập", "Forbidden"),
    404: ("Không tìm thấy trang hoặc dữ liệu", "Not found"),
    405: ("Phương thức không được hỗ trợ", "Method not allowed"),
    409: ("Xung đột dữ liệu", "Conflict"),
    412: ("Dữ liệu đã thay đổi, vui lòng tải lại", "Precondition failed: the data has changed, reload it"),
    413: ("Tệp hoặc yêu cầu quá lớn", "The file or request is too large"),
    415: ("Loại tệp không được chấp nhận", "Unsupported file type"),
    422: ("Dữ liệu không hợp lệ", "Invalid data"),
    428: ("Cần gửi kèm phiên bản dữ liệu (If-Match)", "Precondition required: send If-Match"),
    429: ("Quá nhiều yêu cầu, vui lòng thử lại sau", "Too many requests, try again later"),
    500: ("Lỗi hệ thống", "Internal error"),
    503: ("Dịch vụ tạm thời không khả dụng", "Service unavailable"),
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, vi: str | None = None, en: str | None = None, errors: dict | None = None):
    default_vi, default_en = _HTTP_TEXT.get(status, _HTTP_TEXT[500])
    vi, en = vi or default_vi, en or default_en
    if wants_json():
        body = {
            "code": status,
            "status": default_en,
            "message": tr(vi, en),
            "message_vi": vi,
            "message_en": en,
        }
        if errors:
            body["errors"] = errors
        return jsonify(body), status
    return render_template("error.html", status=status, vi=vi, en=en), status


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return error_response(exc.status, exc.vi, exc.en, exc.errors)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        errors = None
        data = getattr(exc, "data", None)  # webargs / flask-smorest validation details
        if isinstance(data, dict) and "messages" in data:
            errors = data["messages"]
        return error_response(exc.code or 500, errors=errors)

    @app.errorhandler(DataError)
    def _out_of_range(exc: DataError):
        # A value the database cannot hold (too long, too large): the caller's input, not a crash.
        app.logger.info("value refused by the database: %s", exc.orig)
        return error_response(
            422,
            "Có giá trị quá dài hoặc vượt giới hạn cho phép; vui lòng kiểm tra lại dữ liệu đã nhập.",
            "A value is too long or out of range; check what was entered.",
        )

    @app.errorhandler(Exception)
    def _crash(exc: Exception):
        app.logger.exception("unhandled error")
        return error_response(500)
