"""Run dbt (dbt-postgres) against the platform's PostgreSQL, configured from Settings.

`dbt_project/profiles.yml` reads only environment variables; `dbt_env` derives them from
LAKEHOUSE_PG_DSN, so local mode needs no extra configuration and no secret lands in a file.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lakehouse.paths import REPO_ROOT, logs_dir
from lakehouse.settings import Settings

log = logging.getLogger(__name__)

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


class DbtError(RuntimeError):
    """dbt exited non-zero; the message carries the tail of its output."""


@dataclass(frozen=True)
class DbtResult:
    command: list[str]
    seconds: float
    output: str


def dbt_env(dsn: str, database: str | None = None) -> dict[str, str]:
    """DBT_PG_* variables for profiles.yml from a postgresql:// DSN."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.username:
        raise ValueError("LAKEHOUSE_PG_DSN must look like postgresql://user:password@host:port/database")
    return {
        "DBT_PG_HOST": parts.hostname,
        "DBT_PG_PORT": str(parts.port or 5432),
        "DBT_PG_USER": unquote(parts.username),
        "DBT_PG_PASSWORD": unquote(parts.password or ""),
        "DBT_PG_DATABASE": database or parts.path.lstrip("/") or "market_db",
    }


def _dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def dbt_invocation(settings: Settings, *args: str, database: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The command and environment of `dbt <args>` against the platform's PostgreSQL (run in DBT_PROJECT_DIR)."""
    connection = dbt_env(settings.require_pg_dsn(), database)
    env = {
        **os.environ,
        **connection,
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_LOG_PATH": str(logs_dir() / "dbt"),
        # One target folder per database: concurrent runs (the demo's schedule, tests) never share a manifest.
        "DBT_TARGET_PATH": str(DBT_PROJECT_DIR / "target" / connection["DBT_PG_DATABASE"]),
    }
    return [_dbt_executable(), *args], env


def run_dbt(settings: Settings, *args: str, database: str | None = None, timeout_s: float = 1800) -> DbtResult:
    """Run `dbt <args>` in dbt_project/; raise DbtError with the output tail when it fails."""
    command, env = dbt_invocation(settings, *args, database=database)
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise DbtError(f"`dbt {' '.join(args)}` failed after {seconds:.1f}s:\n{output[-6000:]}")
    log.info("dbt %s finished in %.1fs", " ".join(args), seconds)
    return DbtResult(command=command, seconds=seconds, output=output)


def build_gold(settings: Settings, database: str | None = None, full_refresh: bool = False) -> DbtResult:
    """`dbt build`: models, data tests and unit tests, gold in schema `gold`."""
    args = ["build", "--fail-fast"]
    if full_refresh:
        args.append("--full-refresh")
    return run_dbt(settings, *args, database=database)


@dataclass(frozen=True)
class SourceFreshness:
    source: str  # e.g. silver.trades
    status: str  # pass, warn, error or runtime error (dbt's words)
    age_s: float | None  # seconds since the newest processed row


def check_source_freshness(settings: Settings, database: str | None = None) -> list[SourceFreshness]:
    """`dbt source freshness`: how long ago silver last received rows, against the thresholds in
    sources.yml. Raise DbtError when a source is past its error threshold (the Airflow task fails and
    alerts); a warning is returned and logged."""
    command, env = dbt_invocation(settings, "source", "freshness", database=database)
    result = subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600)
    sources_json = Path(env["DBT_TARGET_PATH"]) / "sources.json"
    try:
        report = json.loads(sources_json.read_text())
    except (OSError, ValueError) as error:
        raise DbtError(f"`dbt source freshness` wrote no report:\n{(result.stdout + result.stderr)[-4000:]}") from error
    found = [
        SourceFreshness(
            source=entry["unique_id"].split(".", 2)[2],  # source.<project>.<source>.<table>
            status=entry["status"],
            age_s=entry.get("max_loaded_at_time_ago_in_s"),
        )
        for entry in report.get("results", [])
    ]
    for item in found:
        if item.status == "warn":
            log.warning("source %s is stale: newest row %.0f s old", item.source, item.age_s or 0)
    failed = [item for item in found if item.status not in ("pass", "warn")]
    if failed or result.returncode != 0:
        described = ", ".join(f"{i.source}: {i.status} ({i.age_s or 0:.0f} s old)" for i in failed)
        raise DbtError(f"source freshness failed: {described or (result.stdout + result.stderr)[-2000:]}")
    return found
