#!/usr/bin/env bash
# Print a complete .env for docker compose, with a fresh random value for every secret.
# `make up` runs it once (`./scripts/make_env.sh > .env`) when there is no .env yet.
# Non-secret settings keep the defaults of .env.example; edit .env afterwards to change them.
# Every value is hex, base64url or alphanumeric, so it is safe inside URLs (DSNs) and YAML.
set -euo pipefail
cd "$(dirname "$0")/.."

# n random bytes as lower-case hex (2n characters), from the kernel's CSPRNG.
hex() { od -An -vtx1 -N "$1" /dev/urandom | tr -d ' \n'; }
# 32 random bytes as url-safe base64: the format of an Airflow (Fernet) key.
fernet_key() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n'; }
sha256_hex() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

company_key="$(hex 32)"

cat <<ENV
# Written by scripts/make_env.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Keep this file private (it is in .gitignore).
# Regenerating it on an existing stack does not change passwords already stored in the volumes.

ENV
# The non-secret defaults, exactly as documented in .env.example (lines with a value).
grep -E '^[A-Z][A-Z0-9_]*=.+' .env.example

cat <<ENV

# Secrets, generated for this stack.
POSTGRES_ADMIN_PASSWORD=$(hex 24)
PG_WRITER_PASSWORD=$(hex 24)
PG_READER_PASSWORD=$(hex 24)
MLFLOW_DB_PASSWORD=$(hex 24)
AIRFLOW_DB_PASSWORD=$(hex 24)
METABASE_DB_PASSWORD=$(hex 24)
MINIO_ROOT_USER=lakehouse-root
MINIO_ROOT_PASSWORD=$(hex 24)
S3_WRITER_ACCESS_KEY=lake-writer
S3_WRITER_SECRET_KEY=$(hex 24)
S3_READER_ACCESS_KEY=lake-reader
S3_READER_SECRET_KEY=$(hex 24)
S3_MLFLOW_ACCESS_KEY=mlflow-artifacts
S3_MLFLOW_SECRET_KEY=$(hex 24)
MLFLOW_ADMIN_PASSWORD=$(hex 24)
MLFLOW_TRAINER_PASSWORD=$(hex 24)
MLFLOW_READER_PASSWORD=$(hex 24)
MLFLOW_SECRET_KEY=$(hex 32)
SPARK_AUTH_SECRET=$(hex 32)
AIRFLOW_ADMIN_PASSWORD=$(hex 16)
AIRFLOW_FERNET_KEY=$(fernet_key)
AIRFLOW_JWT_SECRET=$(hex 32)
AIRFLOW_API_SECRET_KEY=$(hex 32)
GRAFANA_ADMIN_PASSWORD=$(hex 16)
COMPANY_API_KEY=${company_key}
API_KEYS=company:$(sha256_hex "$company_key")
ENV
