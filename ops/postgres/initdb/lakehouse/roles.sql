-- The one definition of the PostgreSQL roles, schemas and privileges of the platform.
--
-- Run by psql as a superuser connected to the lake database (market_db, or a test's scratch copy):
--   ops/postgres/initdb/10-lakehouse.sh    compose, first start of an empty volume
--   lakehouse/local/postgres_server.py     every start of the local server (make demo, tests)
--   tests/utils/silver_pg.py               scratch databases of the gold tests
-- It lives in a sub-folder of initdb/ so the postgres image's entrypoint does not run it on its own
-- (it runs only the *.sh / *.sql files directly in /docker-entrypoint-initdb.d, without variables).
--
-- psql variables (psql quotes them, so no password is spliced into SQL text):
--   writer_password, reader_password       required
--   mlflow_password, airflow_password, metabase_password
--                                          optional: each one given creates that tool's database,
--                                          owned by a role of the same name (compose only)
-- Idempotent: every statement may run again on a database it has already set up.
\set ON_ERROR_STOP on

-- lakehouse_writer  owns silver and gold (streaming mirror, dbt); lakehouse_reader reads only.
SELECT format('CREATE ROLE %I LOGIN', role_name)
  FROM (VALUES ('lakehouse_writer'), ('lakehouse_reader')) AS lake_roles (role_name)
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) \gexec
ALTER ROLE lakehouse_writer WITH LOGIN PASSWORD :'writer_password';
ALTER ROLE lakehouse_reader WITH LOGIN PASSWORD :'reader_password';
ALTER ROLE lakehouse_reader SET default_transaction_read_only = on;

-- Only the roles named here may connect to the lake database (PUBLIC loses CONNECT and TEMPORARY).
REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"DBNAME" TO lakehouse_writer, lakehouse_reader;
-- TEMPORARY: the silver mirror's staged upsert and dbt's incremental models write temp tables.
GRANT CREATE, TEMPORARY ON DATABASE :"DBNAME" TO lakehouse_writer;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO lakehouse_writer;
GRANT USAGE ON SCHEMA public TO lakehouse_reader;

CREATE SCHEMA IF NOT EXISTS silver AUTHORIZATION lakehouse_writer;
CREATE SCHEMA IF NOT EXISTS gold AUTHORIZATION lakehouse_writer;
GRANT USAGE ON SCHEMA silver, gold TO lakehouse_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA silver, gold TO lakehouse_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE lakehouse_writer IN SCHEMA silver, gold, public
  GRANT SELECT ON TABLES TO lakehouse_reader;

-- One database per tool, owned by its own role; nobody else may connect to it.
\if :{?mlflow_password}
SELECT 'CREATE ROLE mlflow LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mlflow') \gexec
ALTER ROLE mlflow WITH LOGIN PASSWORD :'mlflow_password';
SELECT 'CREATE DATABASE mlflow OWNER mlflow'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mlflow') \gexec
REVOKE ALL ON DATABASE mlflow FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE mlflow TO mlflow;
\endif

\if :{?airflow_password}
SELECT 'CREATE ROLE airflow LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'airflow') \gexec
ALTER ROLE airflow WITH LOGIN PASSWORD :'airflow_password';
SELECT 'CREATE DATABASE airflow OWNER airflow'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'airflow') \gexec
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE airflow TO airflow;
\endif

\if :{?metabase_password}
SELECT 'CREATE ROLE metabase LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'metabase') \gexec
ALTER ROLE metabase WITH LOGIN PASSWORD :'metabase_password';
SELECT 'CREATE DATABASE metabase OWNER metabase'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'metabase') \gexec
REVOKE ALL ON DATABASE metabase FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE metabase TO metabase;
\endif
