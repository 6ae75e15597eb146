#!/usr/bin/env bash
# One-shot Airflow set-up for compose (the `airflow-init` service): migrate the metadata database
# in PostgreSQL, then give the `admin` UI user the password from .env. The simple auth manager reads
# its users' passwords from this JSON file and generates one only for a user it does not find there.
set -euo pipefail

: "${AIRFLOW_ADMIN_PASSWORD:?AIRFLOW_ADMIN_PASSWORD is not set}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?}"

airflow db migrate

python - <<'PY'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps({"admin": os.environ["AIRFLOW_ADMIN_PASSWORD"]}) + "\n")
path.chmod(0o600)
PY
echo "airflow: metadata database migrated, user admin ready"
