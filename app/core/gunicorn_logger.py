"""Gunicorn's own access log, without link tokens.

``--access-logfile -`` writes the request line of every request; this logger class
(``--logger-class app.core.gunicorn_logger.RedactingLogger``) passes every text it
would log through ``app.core.logs.redact_path`` first, as the app's access log does.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from app.core.logs import redact_path


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact_path(value) if isinstance(value, str) else value for key, value in atoms.items()}
