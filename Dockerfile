# syntax=docker/dockerfile:1
# The images of the Python services without Spark, one per dependency group (build argument
# DEPENDENCY_GROUP): ingest (API, producer, company simulator), dbt, mlflow-server, dashboard.
# Dependencies come from requirements/<group>.txt (exported from uv.lock by `make requirements`) and
# are installed in their own stage before any project code is copied, so a code change rebuilds only
# the last, small layers.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv
RUN python -m venv "${VIRTUAL_ENV}"
ENV PATH="${VIRTUAL_ENV}/bin:${PATH}"
# Extra CAs (a TLS-intercepting proxy, a registry mirror) for pip only: ops/docker/ca-certificates/.
COPY ops/docker/ca-certificates/ /tmp/extra-ca/
# Which image this is: a dependency group of pyproject.toml (ingest, dbt, mlflow-server or
# dashboard), exported from the lock to requirements/<group>.txt by `make requirements`. Each image
# installs only its group.
ARG DEPENDENCY_GROUP=ingest
COPY requirements/${DEPENDENCY_GROUP}.txt /tmp/requirements.txt
# Every pin (and every transitive pin) comes from the lock; --no-deps refuses anything unlisted.
RUN cat /etc/ssl/certs/ca-certificates.crt /tmp/extra-ca/*.crt > /tmp/ca-bundle.pem 2>/dev/null \
        || cp /etc/ssl/certs/ca-certificates.crt /tmp/ca-bundle.pem \
    && PIP_CERT=/tmp/ca-bundle.pem pip install --no-deps --requirement /tmp/requirements.txt \
    && rm -rf /tmp/extra-ca /tmp/ca-bundle.pem

FROM ${PYTHON_IMAGE} AS runtime
ENV VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/app \
    LAKEHOUSE_HOME=/home/lakehouse/.lakehouse \
    LAKEHOUSE_ENV=docker
RUN groupadd --gid 10001 lakehouse \
    && useradd --uid 10001 --gid lakehouse --create-home --shell /usr/sbin/nologin lakehouse
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root lakehouse/ /app/lakehouse/
COPY --chown=root:root schemas/ /app/schemas/
COPY --chown=root:root ops/ /app/ops/
COPY --chown=root:root *.py /app/
COPY --chown=root:root .streamlit/ /app/.streamlit/
COPY --chown=root:root dags/ /app/dags/
COPY --chown=root:root dbt_project/ /app/dbt_project/
# The code belongs to root and is read-only for the service user; only dbt's own output folders
# (target/, logs/, dbt_packages/) are the user's.
RUN mkdir -p /app/dbt_project/target /app/dbt_project/logs /app/dbt_project/dbt_packages \
    && chown -R lakehouse:lakehouse /app/dbt_project/target /app/dbt_project/logs /app/dbt_project/dbt_packages
# Numeric, so Kubernetes' runAsNonRoot and other hosts can verify it without our /etc/passwd.
USER 10001:10001
RUN mkdir -p /home/lakehouse/.lakehouse
CMD ["python", "-c", "import lakehouse; print('lakehouse', lakehouse.__version__)"]
