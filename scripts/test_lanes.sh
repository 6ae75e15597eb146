#!/usr/bin/env bash
# `make test`: every test, in two lanes that run at once.
#   local lane    pytest -m "not compose": unit, static, integration and e2e against the local services
#   compose lane  pytest -m compose: builds every image here, starts docker-compose.yaml, drives it
# One after the other they do not fit CI's 60 minutes on 2 cores; side by side at equal priority
# they starve each other (measured: load 17, a dbt build 10x slower, the e2e test failing). So the
# compose lane runs at background priority (nice 19, its containers in a low-weight CPU cgroup): its
# Go and image builds take only the CPU the local tests leave idle, and it starts the stack only once
# the local lane is done. They share nothing but the Go tool cache (locked). The compose lane's
# output goes to .lakehouse/compose-run/pytest.log and is replayed here once the local lane is done.
# Arguments are pytest options given to both lanes (PYTEST_ARGS); to select tests, call pytest.
set -uo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

run_dir=.lakehouse/compose-run
mkdir -p "$run_dir"
compose_log="$run_dir/pytest.log"

# While this file names a live process, the compose lane builds at background priority and waits
# before starting the stack (tests/compose/conftest.py).
lane_marker="$run_dir/local-lane.pid"
echo $$ >"$lane_marker"

nice -n 19 uv run --frozen pytest -m compose -v "$@" >"$compose_log" 2>&1 &
compose_pid=$!
# A script's background job ignores Ctrl-C: pass it on, so the compose fixture tears the stack down.
trap 'rm -f "$lane_marker"; kill -INT "$compose_pid" 2>/dev/null' INT TERM
say "compose lane started (pid $compose_pid, log $compose_log)"

uv run --frozen pytest -m "not compose" "$@"
local_rc=$?
rm -f "$lane_marker"

say "local lane finished (exit $local_rc); the compose lane so far, then until it ends:"
tail -n +1 --pid="$compose_pid" -f "$compose_log"
wait "$compose_pid"
compose_rc=$?

say "local lane exit $local_rc, compose lane exit $compose_rc"
[ "$local_rc" -eq 0 ] && [ "$compose_rc" -eq 0 ]
