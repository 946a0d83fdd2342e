"""Outgoing e-mail: Vietnamese first with English below, delivered by an RQ job after the commit.

``send_after_commit(session, mail)`` queues nothing until ``session`` commits (a
rolled-back registration sends no mail), then enqueues ``deliver`` on the
``high`` queue with retries. The job speaks SMTP to ``MAIL_SMTP_HOST``; without
one (the ``make run`` demo) it writes the message as an ``.eml`` file under
``MAIL_DIR`` and logs its links, so the demo works without a mail server.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.core.db import get_platform
from app.core.jobs import enqueue_for_platform

log = logging.getLogger("motcua.mail")

REPO_ROOT = Path(__file__).resolve().parents[2]
RETRY_INTERVALS = [10, 60, 300, 900, 3600]  # seconds; then the job stays in the failed registry
SMTP_TIMEOUT_SECONDS = 30
_PENDING = "motcua.mail.pending"


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    # Logged when there is no SMTP server (the demo), so a developer can follow them.
    links: list[str] = field(default_factory=list)


def compose(
    to: str, *, subject: tuple[str, str], body: tuple[str, str], links: list[str] | None = None
) -> Mail:
    """One message in both languages: the Vietnamese text, then the English one below it."""
    subject_vi, subject_en = subject
    body_vi, body_en = body
    text = f"{body_vi.strip()}\n\n---------- English ----------\n\n{body_en.strip()}\n"
    return Mail(to=to, subject=f"{subject_vi} / {subject_en}", text=text, links=list(links or []))


def send_after_commit(session: Session, mail: Mail) -> None:
    """Deliver ``mail`` once ``session`` commits; forget it if the session rolls back."""
    if _PENDING not in session.info:
        session.info[_PENDING] = []
        event.listen(session, "after_commit", _enqueue_pending)
        event.listen(session, "after_rollback", _forget_pending)
    session.info[_PENDING].append(mail)


def send_now(mail: Mail) -> str:
    """Deliver ``mail`` in this process, raising when it cannot (server down, refused).

    For a background step whose mail must not be lost: call it as the last thing before
    the step's commit, so a failure rolls the step back and the step is retried. A crash
    between sending and committing sends it again (at least once, never zero times).
    """
    return deliver(asdict(mail))


def _forget_pending(session: Session) -> None:
    session.info.get(_PENDING, []).clear()


def _enqueue_pending(session: Session) -> None:
    pending = session.info.get(_PENDING) or []
    mails, pending[:] = list(pending), []
    for mail in mails:
        enqueue(mail)


def enqueue(mail: Mail) -> bool:
    """Queue the delivery job. Never raises: the person can ask for the mail again."""
    try:
        enqueue_for_platform(
            "high",
            deliver,
            asdict(mail),
            job_options={
                "retry": Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                "result_ttl": 0,  # the job's arguments hold a one-time link: do not keep them
                "failure_ttl": 7 * 86400,
                "description": f"mail to {mail.to}",
            },
        )
        return True
    except (RedisError, OSError) as exc:
        log.error("mail to %s not queued, Redis unavailable: %s", mail.to, exc)
        return False


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "motcua.local"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Content-Language"] = "vi, en"
    message.set_content(mail.text, charset="utf-8")
    return message


def deliver(mail: dict) -> str:
    """The job: send one message by SMTP, or write it under ``MAIL_DIR`` without a server.

    Raising (server down, refused) makes RQ retry it after ``RETRY_INTERVALS``.
    """
    settings = get_platform().settings
    message = build_message(Mail(**mail), settings.mail_from)
    if not settings.mail_smtp_host:
        return _write_file(message, mail.get("links") or [], settings.mail_dir)
    smtp_class = smtplib.SMTP_SSL if settings.mail_smtp_port == 465 else smtplib.SMTP
    with smtp_class(settings.mail_smtp_host, settings.mail_smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        if settings.mail_smtp_starttls and smtp_class is smtplib.SMTP:
            smtp.starttls(context=ssl.create_default_context())
        if settings.mail_smtp_user:
            smtp.login(settings.mail_smtp_user, settings.mail_smtp_password)
        smtp.send_message(message)
    log.info("mail sent to %s", message["To"])
    return "sent"


def _write_file(message: EmailMessage, links: list[str], mail_dir: str) -> str:
    folder = Path(mail_dir)
    folder = folder if folder.is_absolute() else REPO_ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
    path = folder / name
    path.write_bytes(bytes(message))
    log.info("no MAIL_SMTP_HOST: mail to %s written to %s; links: %s", message["To"], path, " ".join(links))
    return str(path)
