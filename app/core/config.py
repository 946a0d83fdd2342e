"""Configuration from the environment. Every variable is listed in the README."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def parse_shard_urls(text: str) -> dict[str, str]:
    """``SHARD_URLS="s2=postgresql://...,s3=postgresql://..."`` -> {name: url}."""
    shards: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, url = part.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise ValueError(f"SHARD_URLS entry {part!r} is not name=url")
        shards[name.strip()] = url.strip()
    return shards


def parse_seats(text: str) -> dict[str, int]:
    """``ONBOARDING_SEATS="department=40,district=20,commune=300"`` -> {kind: seats}; empty: no limit."""
    seats: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, sep, number = part.partition("=")
        if not sep or not kind.strip() or not number.strip().isdigit():
            raise ValueError(f"ONBOARDING_SEATS entry {part!r} is not kind=number")
        seats[kind.strip()] = int(number)
    return seats


def sqlalchemy_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass
class Settings:
    database_url: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    shard_urls: dict[str, str] = field(default_factory=dict)
    platform_domain: str = "localhost"
    secret_key: str = "dev-only-change-me"
    # Production serves HTTPS only: send the session cookie only over HTTPS.
    session_cookie_secure: bool = False
    log_level: str = "INFO"
    log_format: str = "json"
    archive_dir: str = "var/archives"
    # A decommissioned unit's archived schema is kept this long, then dropped (provisioning/decommission.py).
    decommission_retention_days: int = 365
    # Folder of pg_dump matching the server's version (the embedded server's own); empty: PATH.
    pg_bin: str = ""
    db_pool_size: int = 5
    db_max_overflow: int = 5
    # Recycle a pooled connection once it has served this many distinct tenant
    # schemas: PostgreSQL keeps catalog caches per table touched and never shrinks them.
    db_recycle_after_tenants: int = 40
    migrate_jobs: int = 4
    # Where the tenant tree's revisions live (benchmarks and tests point it at a copy).
    tenant_migrations_dir: str = ""
    migrate_lock_timeout_ms: int = 5000
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    # Sign-in attempts per client IP at the identity provider, per window.
    login_limit_per_ip: int = 30
    login_ip_window_seconds: int = 600
    sso_session_hours: int = 12
    # Old signing keys keep verifying tokens this long after a rotation.
    signing_key_rollover_hours: int = 24
    # Attachments and generated documents (app/core/storage.py); relative to the repository.
    storage_dir: str = "var/storage"
    max_upload_bytes: int = 10 * 1024 * 1024
    # Public status lookup (app/portal/lookup.py): lookups per client IP, failed factors per code.
    lookup_limit_per_ip: int = 30
    lookup_ip_window_seconds: int = 600
    lookup_limit_per_code: int = 10
    lookup_code_window_seconds: int = 3600
    lookup_exempt_ips: str = ""  # comma list, e.g. the benchmark client
    # Outgoing mail (app/core/mail.py); without a host, messages are written to mail_dir as .eml files.
    mail_smtp_host: str = ""
    mail_smtp_port: int = 587
    mail_smtp_user: str = ""
    mail_smtp_password: str = ""
    mail_smtp_starttls: bool = False
    mail_from: str = "Motcua <no-reply@motcua.local>"
    mail_dir: str = "var/mail"
    # Let unit-level identity providers (app/federation) reach loopback/private addresses (dev, tests).
    federation_allow_private_hosts: bool = False
    # Provisioning pipeline (provisioning/pipeline.py): seconds to wait before each retry of a
    # failed step; a step gets len(delays) + 1 attempts, then the run stops as failed.
    provisioning_retry_delays: tuple[float, ...] = (2.0, 8.0, 30.0)
    # A pending run this long untouched (its enqueue lost: Redis was down) is enqueued by the sweep.
    provisioning_sweep_idle_seconds: int = 60
    # Seats per unit kind for self-service onboarding (provisioning/seats.py); empty: unlimited.
    onboarding_seats: dict[str, int] = field(default_factory=dict)
    # Proxies (load balancers) in front of the app whose X-Forwarded-For/-Proto/-Host/-Port
    # headers are trusted: client IPs for the rate limits and audit, https in mailed links.
    # 0 (the default) trusts none: the headers are ignored, as anyone can send them.
    proxy_hops: int = 0
    # Billing aggregation re-counts this many past days each run, for late events (billing/aggregate.py).
    billing_late_window_days: int = 10
    # Packages above ``app`` in the dependency direction (ARCHITECTURE.md) that plug their
    # blueprints, commands and job modules in through ``init_app(app)``; imported by name so
    # ``app`` never imports them statically.
    extensions: tuple[str, ...] = ("billing.web", "provisioning.web")

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            database_url=sqlalchemy_url(env.get("DATABASE_URL", "")),
            redis_url=env.get("REDIS_URL", cls.redis_url),
            shard_urls={k: sqlalchemy_url(v) for k, v in parse_shard_urls(env.get("SHARD_URLS", "")).items()},
            platform_domain=env.get("PLATFORM_DOMAIN", cls.platform_domain).lower().strip("."),
            secret_key=env.get("SECRET_KEY", cls.secret_key),
            session_cookie_secure=env.get("SESSION_COOKIE_SECURE", "").lower() in ("1", "true", "yes"),
            log_level=env.get("LOG_LEVEL", cls.log_level).upper(),
            log_format=env.get("LOG_FORMAT", cls.log_format),
            archive_dir=env.get("ARCHIVE_DIR", cls.archive_dir),
            decommission_retention_days=_int("DECOMMISSION_RETENTION_DAYS", cls.decommission_retention_days),
            pg_bin=env.get("PG_BIN", ""),
            db_pool_size=_int("DB_POOL_SIZE", cls.db_pool_size),
            db_max_overflow=_int("DB_MAX_OVERFLOW", cls.db_max_overflow),
            db_recycle_after_tenants=_int("DB_RECYCLE_AFTER_TENANTS", cls.db_recycle_after_tenants),
            migrate_jobs=_int("MIGRATE_JOBS", cls.migrate_jobs),
            tenant_migrations_dir=env.get("TENANT_MIGRATIONS_DIR", ""),
            migrate_lock_timeout_ms=_int("MIGRATE_LOCK_TIMEOUT_MS", cls.migrate_lock_timeout_ms),
            login_max_failures=_int("LOGIN_MAX_FAILURES", cls.login_max_failures),
            login_lockout_minutes=_int("LOGIN_LOCKOUT_MINUTES", cls.login_lockout_minutes),
            login_limit_per_ip=_int("LOGIN_LIMIT_PER_IP", cls.login_limit_per_ip),
            login_ip_window_seconds=_int("LOGIN_IP_WINDOW_SECONDS", cls.login_ip_window_seconds),
            sso_session_hours=_int("SSO_SESSION_HOURS", cls.sso_session_hours),
            signing_key_rollover_hours=_int("SIGNING_KEY_ROLLOVER_HOURS", cls.signing_key_rollover_hours),
            storage_dir=env.get("STORAGE_DIR", cls.storage_dir),
            max_upload_bytes=_int("MAX_UPLOAD_BYTES", cls.max_upload_bytes),
            lookup_limit_per_ip=_int("LOOKUP_LIMIT_PER_IP", cls.lookup_limit_per_ip),
            lookup_ip_window_seconds=_int("LOOKUP_IP_WINDOW_SECONDS", cls.lookup_ip_window_seconds),
            lookup_limit_per_code=_int("LOOKUP_LIMIT_PER_CODE", cls.lookup_limit_per_code),
            lookup_code_window_seconds=_int("LOOKUP_CODE_WINDOW_SECONDS", cls.lookup_code_window_seconds),
            lookup_exempt_ips=env.get("LOOKUP_EXEMPT_IPS", ""),
            mail_smtp_host=env.get("MAIL_SMTP_HOST", ""),
            mail_smtp_port=_int("MAIL_SMTP_PORT", cls.mail_smtp_port),
            mail_smtp_user=env.get("MAIL_SMTP_USER", ""),
            mail_smtp_password=env.get("MAIL_SMTP_PASSWORD", ""),
            mail_smtp_starttls=env.get("MAIL_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
            mail_from=env.get("MAIL_FROM", cls.mail_from),
            mail_dir=env.get("MAIL_DIR", cls.mail_dir),
            federation_allow_private_hosts=env.get("FEDERATION_ALLOW_PRIVATE_HOSTS", "").lower()
            in ("1", "true", "yes"),
            provisioning_retry_delays=tuple(
                float(x) for x in env.get("PROVISIONING_RETRY_DELAYS", "2,8,30").split(",") if x.strip()
            ),
            provisioning_sweep_idle_seconds=_int(
                "PROVISIONING_SWEEP_IDLE_SECONDS", cls.provisioning_sweep_idle_seconds
            ),
            onboarding_seats=parse_seats(env.get("ONBOARDING_SEATS", "")),
            proxy_hops=_int("PROXY_HOPS", cls.proxy_hops),
            billing_late_window_days=_int("BILLING_LATE_WINDOW_DAYS", cls.billing_late_window_days),
        )
