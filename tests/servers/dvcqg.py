"""A fake national public-service portal (DVCQG, through the provincial LGSP) for the sync tests.

    portal = FakePortal(token="t0k", madonvi="000.00.01.H26", dstcode="dst").start()
    portal.url                       # POST endpoint
    portal.fail_next(3, code="99")   # answer an error code 3 times (or code="500": HTTP 500)
    portal.fail_until_told(code="500"); portal.recover()
    portal.slow(seconds=2, times=1)  # the next answer comes late (beyond the client's timeout)
    portal.pace(0.2)                 # every call takes 0.2 s, then is handled normally
    portal.accepted                  # [(service, is_updating, item)] in acceptance order
    portal.stop()

It runs in a thread of the test process (ThreadingHTTPServer) and checks what a real portal
checks: the envelope and header, the session token and unit code, each item's required fields
and that every date is ``yyyyMMddHHmmss``. A rejected call records nothing.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DATE_RE = re.compile(r"^\d{14}$")
REQUIRED = {
    "DongBoHoSoMC": ("MaHoSo", "MaTTHC", "TrangThaiHoSo", "ChuHoSo", "KenhThucHien"),
    "CapNhatTienDoHoSoMC": ("MaHoSo", "NguoiXuLy", "ThoiDiemXuLy", "TrangThai", "NoiDungXuLy"),
    "TraCuuHoSo": ("MaHoSo",),  # a lookup: checked, never recorded as accepted
}
DATE_FIELDS = {
    "DongBoHoSoMC": ("NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayTra", "NgayKetThucXuLy", "NgayTuChoi"),
    "CapNhatTienDoHoSoMC": ("ThoiDiemXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh"),
    "TraCuuHoSo": (),
}


class FakePortal:
    def __init__(self, *, token: str, madonvi: str, dstcode: str | None = None) -> None:
        self.token = token
        self.madonvi = madonvi
        self.dstcode = dstcode
        self.accepted: list[tuple[str, bool, dict]] = []
        self.rejected: list[str] = []
        self.calls = 0
        self._fail_left = 0
        self._fail_code = "99"
        self._fail_forever = False
        self._slow_seconds = 0.0
        self._slow_left = 0
        self._pace = 0.0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- steering ---------------------------------------------------------

    def fail_next(self, times: int, *, code: str = "99") -> None:
        with self._lock:
            self._fail_left, self._fail_code = times, code

    def fail_until_told(self, *, code: str = "500") -> None:
        with self._lock:
            self._fail_forever, self._fail_code = True, code

    def recover(self) -> None:
        with self._lock:
            self._fail_forever, self._fail_left, self._slow_left = False, 0, 0

    def slow(self, *, seconds: float, times: int = 1) -> None:
        with self._lock:
            self._slow_seconds, self._slow_left = seconds, times

    def pace(self, seconds: float) -> None:
        with self._lock:
            self._pace = seconds

    def accepted_codes(self, service: str | None = None) -> list[str]:
        return [item["MaHoSo"] for s, _, item in self.accepted if service in (None, s)]

    # --- serving ----------------------------------------------------------

    def start(self) -> FakePortal:
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, answer = portal.handle(self.headers, self.rfile.read(length))
                body = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (timeout)
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/lgsp/dvcqg"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(self, headers, raw: bytes) -> tuple[int, dict]:
        with self._lock:
            self.calls += 1
            delay = 0.0
            if self._slow_left > 0:
                self._slow_left -= 1
                delay = self._slow_seconds
            failing = self._fail_forever or self._fail_left > 0
            if self._fail_left > 0:
                self._fail_left -= 1
            code = self._fail_code
            pace = self._pace
        if pace:
            time.sleep(pace)
        if delay:
            time.sleep(delay)
            return 200, {"error_code": "98", "message": "answered too late"}  # the client has gone
        if failing:
            if code.startswith("5") and len(code) == 3:
                return int(code), {"error_code": code, "message": "Service unavailable"}
            return 200, {"error_code": code, "message": "Lỗi hệ thống tạm thời / temporary error"}
        problem = self.validate(headers, raw)
        if problem:
            with self._lock:
                self.rejected.append(problem[1])
            return 200, {"error_code": problem[0], "message": problem[1]}
        envelope = json.loads(raw)
        if envelope["service"] == "TraCuuHoSo":
            return 200, {"error_code": "00", "message": "Không tìm thấy hồ sơ", "data": []}
        with self._lock:
            for item in envelope["data"]:
                self.accepted.append((envelope["service"], envelope["isUpdating"] == "True", item))
        return 200, {"error_code": "00", "message": "Thành công"}

    def validate(self, headers, raw: bytes) -> tuple[str, str] | None:
        if self.dstcode and headers.get("dstcode") != self.dstcode:
            return "10", "dstcode header missing or wrong"
        try:
            envelope = json.loads(raw)
        except ValueError:
            return "11", "body is not JSON"
        for key in ("session", "madonvi", "service", "isUpdating", "data"):
            if key not in envelope:
                return "12", f"envelope misses {key}"
        if envelope["session"] != self.token:
            return "13", "invalid session token"
        if envelope["madonvi"] != self.madonvi:
            return "14", "unknown madonvi"
        service = envelope["service"]
        if service not in REQUIRED:
            return "15", f"unknown service {service}"
        if envelope["isUpdating"] not in ("True", "False"):
            return "16", "isUpdating must be True or False"
        if not isinstance(envelope["data"], list) or not envelope["data"]:
            return "17", "data must be a non-empty list"
        for item in envelope["data"]:
            for key in REQUIRED[service]:
                if item.get(key) in (None, ""):
                    return "20", f"{key} is required"
            for key in DATE_FIELDS[service]:
                value = item.get(key, "")
                if value and not DATE_RE.match(str(value)):
                    return "21", f"{key} is not yyyyMMddHHmmss: {value}"
            if len(str(item.get("NguoiXuLy", ""))) > 50:
                return "22", "NguoiXuLy longer than 50 characters"
            problem = check_codes(item) or check_supplements(item.get("DanhSachHoSoBoSung"))
            if problem:
                return problem
        return None


# Code lists of DOMAIN §6.1: a value outside them is refused.
CODES = {
    "TrangThaiHoSo": range(1, 11),
    "TrangThai": range(1, 11),
    "KenhThucHien": (1, 2, 3),
    "LoaiDoiTuong": (1, 2, 3, 4),
    "HinhThuc": (0, 1),
}
SUPPLEMENT_REQUIRED = ("HoSoBoSungId", "NgayBoSung", "TrangThaiBoSung")
SUPPLEMENT_DATES = ("NgayBoSung", "NgayTiepNhanBoSung", "NgayHenTraTruoc", "NgayHenTraMoi")


def check_codes(item: dict) -> tuple[str, str] | None:
    for key, allowed in CODES.items():
        if key in item and item[key] not in allowed:
            return "23", f"{key} {item[key]!r} is not a valid code"
    return None


def check_supplements(history) -> tuple[str, str] | None:
    """DanhSachHoSoBoSung, when given: a list of supplement requests with an id, a date and a state."""
    if history is None:
        return None
    if not isinstance(history, list):
        return "24", "DanhSachHoSoBoSung must be a list"
    for entry in history:
        for key in SUPPLEMENT_REQUIRED:
            if entry.get(key) in (None, ""):
                return "24", f"DanhSachHoSoBoSung.{key} is required"
        for key in SUPPLEMENT_DATES:
            value = entry.get(key, "")
            if value and not DATE_RE.match(str(value)):
                return "24", f"DanhSachHoSoBoSung.{key} is not yyyyMMddHHmmss: {value}"
    return None
