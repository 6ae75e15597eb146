#!/usr/bin/env bash
# Everything `make demo` and `make test` need on a fresh clone: system packages (when root),
# uv, the locked Python environment in .venv, and the pinned JVM jars. Safe to re-run; fast when done.
# With --python-only: uv and .venv alone, all that `make lint` and `make test-unit` need.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

python_only=0
[ "${1:-}" = "--python-only" ] && python_only=1

need_apt=()
if [ "$python_only" = "0" ]; then
  command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
  command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)  # scraped in tests/integration/observability
  # The compose run of `make test` (tests/compose): Debian's Docker engine, and mmdebstrap for base
  # images made from Debian packages (no registry is needed). Only as root: elsewhere the run uses the
  # Docker engine that is there, or skips saying why. `make demo` does not ask for it.
  if [ "${LAKEHOUSE_INSTALL_DOCKER:-0}" = "1" ] && [ "$(id -u)" -eq 0 ]; then
    command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
    command -v mmdebstrap >/dev/null 2>&1 || need_apt+=(mmdebstrap)
  fi
  if [ "${LAKEHOUSE_BROWSER_TESTS:-1}" = "1" ]; then
    command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  fi
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    say "installing Debian packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "missing system packages: ${need_apt[*]} -- install them with: sudo apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! command -v uv >/dev/null 2>&1; then
  say "installing uv"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check uv
fi

say "syncing the Python environment (.venv) from uv.lock"
uv sync --frozen --quiet --python "$PYTHON"

[ "$python_only" = "1" ] && exit 0

say "resolving the pinned JVM jars (jvm/pom.xml)"
uv run --frozen --quiet lakehouse jars
