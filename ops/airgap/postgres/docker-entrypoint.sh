#!/usr/bin/env bash
# Entrypoint of the PostgreSQL stand-in: the contract of the official image's entrypoint, in short.
#  - As root: fix the ownership of PGDATA (a named volume) and re-run this script as `postgres`.
#  - First start (no PG_VERSION): initdb with POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_INITDB_ARGS,
#    start a server on the unix socket only, create POSTGRES_DB, run /docker-entrypoint-initdb.d/*
#    (*.sh executed when executable, else sourced; *.sql and *.sql.gz through psql), then stop it.
#  - Then run postgres on all addresses, password (scram-sha-256) auth from any host. SIGTERM and
#    SIGINT both mean a fast shutdown.
set -Eeuo pipefail

if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  chown postgres:postgres /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

log() { echo "entrypoint: $*" >&2; }

initialise() {
  : "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
  export POSTGRES_USER POSTGRES_DB
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    log "POSTGRES_PASSWORD is not set: refusing to create a database without a superuser password"
    exit 1
  fi
  log "initialising a new cluster in $PGDATA"
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of options, split on purpose
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    ${POSTGRES_INITDB_ARGS:-} >/dev/null
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  echo "host all all all ${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$PGDATA/pg_hba.conf"

  export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w -s start
  trap 'pg_ctl -D "$PGDATA" -m fast -w -s stop; exit 1' TERM INT
  local psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --no-password)
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" -q <<<'CREATE DATABASE :"db";'
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then log "running $f"; "$f"
        else log "sourcing $f"; # shellcheck disable=SC1090
          . "$f"
        fi ;;
      *.sql) log "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) log "running $f"; gzip -dc "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
      *) if [ -e "$f" ]; then log "ignoring $f"; fi ;;
    esac
  done
  unset PGPASSWORD
  pg_ctl -D "$PGDATA" -m fast -w -s stop
  trap - TERM INT
  log "initialisation complete"
}

if [ "$1" = postgres ]; then
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initialise
  fi
  "$@" &
  pid=$!
  # A fast shutdown (SIGINT to postgres) for either signal; postgres' own SIGTERM is a smart one.
  trap 'kill -INT "$pid" 2>/dev/null || true' TERM INT
  status=0
  while :; do
    wait "$pid" && status=0 || status=$?
    kill -0 "$pid" 2>/dev/null || break
  done
  exit "$status"
fi

exec "$@"
