#!/usr/bin/env bash
# First-start initialisation of the compose PostgreSQL (run once by the image's entrypoint, on an
# empty data volume, as the superuser `admin` = POSTGRES_USER, connected to market_db = POSTGRES_DB).
#
# The same roles, schemas and privileges as local mode (lakehouse/local/postgres_server.py):
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

psql_admin() {
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" "$@"
}

psql_admin --dbname "$POSTGRES_DB" \
  -v writer_pw="$PG_WRITER_PASSWORD" -v reader_pw="$PG_READER_PASSWORD" \
  -v mlflow_pw="$MLFLOW_DB_PASSWORD" -v airflow_pw="$AIRFLOW_DB_PASSWORD" \
  -v metabase_pw="$METABASE_DB_PASSWORD" -v market_db="$POSTGRES_DB" <<'SQL'
CREATE ROLE lakehouse_writer LOGIN PASSWORD :'writer_pw';
CREATE ROLE lakehouse_reader LOGIN PASSWORD :'reader_pw';
ALTER ROLE lakehouse_reader SET default_transaction_read_only = on;
CREATE ROLE mlflow LOGIN PASSWORD :'mlflow_pw';
CREATE ROLE airflow LOGIN PASSWORD :'airflow_pw';
CREATE ROLE metabase LOGIN PASSWORD :'metabase_pw';

-- Only the roles named here may connect to market_db.
REVOKE ALL ON DATABASE :"market_db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"market_db" TO lakehouse_writer, lakehouse_reader;
GRANT CREATE ON DATABASE :"market_db" TO lakehouse_writer;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO lakehouse_writer;
GRANT USAGE ON SCHEMA public TO lakehouse_reader;

CREATE SCHEMA silver AUTHORIZATION lakehouse_writer;
CREATE SCHEMA gold AUTHORIZATION lakehouse_writer;
GRANT USAGE ON SCHEMA silver, gold TO lakehouse_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE lakehouse_writer IN SCHEMA silver, gold, public
  GRANT SELECT ON TABLES TO lakehouse_reader;
SQL

# One database per tool, owned by its own role; nobody else may connect to it.
for tool in mlflow airflow metabase; do
  psql_admin --dbname postgres -v tool="$tool" <<'SQL'
CREATE DATABASE :"tool" OWNER :"tool";
REVOKE ALL ON DATABASE :"tool" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"tool" TO :"tool";
SQL
done

echo "10-lakehouse.sh: market_db roles and the mlflow, airflow, metabase databases are ready"
