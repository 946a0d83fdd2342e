# The one image of the platform; infra/terraform runs it as three processes (Procfile):
#   web      gunicorn wsgi:app (the default command)
#   worker   flask jobs worker --with-scheduler
#   release  flask tenants migrate (a one-off task before each rollout)
FROM python:3.11-slim

# pg_dump must match the server's major version (tenant export, `flask tenants drop`);
# keep PG_MAJOR equal to infra/terraform's db_engine_major_version.
ARG PG_MAJOR=16

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLASK_APP=wsgi.py \
    PG_BIN=/usr/lib/postgresql/${PG_MAJOR}/bin \
    STORAGE_DIR=/data/storage \
    ARCHIVE_DIR=/data/archives \
    SESSION_COOKIE_SECURE=1 \
    LOG_FORMAT=json \
    PORT=8000

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL https://www.postgresql.org/media/keys/ACCC4CF8.asc \
        -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
    && . /etc/os-release \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
    && apt-get purge -y curl \
    && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first: the layer survives code changes. requirements.txt also carries
# the embedded PostgreSQL/Redis used by `make run`; they stay idle when DATABASE_URL
# and REDIS_URL are set, as they are in every deployment.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Non-root; uid 10001 matches the EFS access point in infra/terraform/storage.tf.
RUN groupadd --system --gid 10001 motcua \
    && useradd --system --uid 10001 --gid motcua --home-dir /app --no-create-home motcua \
    && mkdir -p /data/storage /data/archives \
    && chown -R motcua:motcua /data
USER motcua

EXPOSE 8000

# Shell form so PORT and WEB_CONCURRENCY apply; exec so gunicorn gets SIGTERM itself.
CMD exec gunicorn wsgi:app --bind "0.0.0.0:${PORT}" --workers "${WEB_CONCURRENCY:-2}" --threads 4 --graceful-timeout 30 --access-logfile - --logger-class app.core.gunicorn_logger.RedactingLogger
