#!/usr/bin/env bash
# First-start initialisation of the compose PostgreSQL (run once by the image's entrypoint, on an
# empty data volume, as the superuser `admin` = POSTGRES_USER, connected to market_db = POSTGRES_DB).
#
# Roles, schemas and privileges come from lakehouse/roles.sql beside this script, the same file
# local mode (lakehouse/local/postgres_server.py) and the tests run:
#   lakehouse_writer  owns the silver and gold schemas (streaming mirror, dbt)
#   lakehouse_reader  SELECT only, read-only transactions (dashboard, Metabase)
# plus one database and owner role each for MLflow, Airflow and Metabase.
# Passwords arrive as environment variables and reach SQL as psql variables (:'name'), which psql
# quotes, so no password is ever spliced into SQL text.
set -euo pipefail

: "${POSTGRES_USER:?}" "${POSTGRES_DB:?}"
for var in PG_WRITER_PASSWORD PG_READER_PASSWORD MLFLOW_DB_PASSWORD AIRFLOW_DB_PASSWORD METABASE_DB_PASSWORD; do
  if [ -z "${!var:-}" ]; then
    echo "10-lakehouse.sh: $var is not set (see .env.example)" >&2
    exit 1
  fi
done

# BASH_SOURCE, not $0: the entrypoint sources a script that is not executable.
roles_sql="$(dirname "${BASH_SOURCE[0]}")/lakehouse/roles.sql"

psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v writer_password="$PG_WRITER_PASSWORD" -v reader_password="$PG_READER_PASSWORD" \
  -v mlflow_password="$MLFLOW_DB_PASSWORD" -v airflow_password="$AIRFLOW_DB_PASSWORD" \
  -v metabase_password="$METABASE_DB_PASSWORD" \
  -f "$roles_sql"

echo "10-lakehouse.sh: market_db roles and the mlflow, airflow, metabase databases are ready"
