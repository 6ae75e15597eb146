"""ops/metabase/setup_metabase.py: Metabase gets the gold schema through the read-only role only."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from types import ModuleType

import pytest
import yaml

from lakehouse.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "ops" / "metabase" / "setup_metabase.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("setup_metabase", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_payload_connects_as_the_reader_to_gold_only() -> None:
    setup = _module()
    env = {
        "MB_ADMIN_EMAIL": "admin@lakehouse.local",
        "MB_ADMIN_PASSWORD": "pw",
        "LAKEHOUSE_PG_READONLY_DSN": "postgresql://lakehouse_reader:p%40ss%2Fw@postgres:5432/market_db",
    }
    payload = setup.setup_payload(env, token="tok")
    details = payload["database"]["details"]
    assert (details["user"], details["password"], details["host"], details["port"], details["dbname"]) == (
        "lakehouse_reader", "p@ss/w", "postgres", 5432, "market_db",
    )  # fmt: skip
    assert (details["schema-filters-type"], details["schema-filters-patterns"]) == ("inclusion", "gold")
    assert payload["token"] == "tok" and payload["prefs"]["allow_tracking"] is False
    with pytest.raises(setup.MetabaseError, match="LAKEHOUSE_PG_READONLY_DSN"):
        setup.database_payload({"LAKEHOUSE_PG_READONLY_DSN": "mysql://x@y/z"})
    with pytest.raises(setup.MetabaseError, match="http"):
        setup.Client("file:///etc/passwd")


def test_missing_configuration_exits_2_naming_the_variables() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT)], env={"PATH": "/usr/bin:/bin"}, capture_output=True,
                            text=True, timeout=30)  # fmt: skip
    assert result.returncode == 2
    assert "MB_URL" in result.stderr and "LAKEHOUSE_PG_READONLY_DSN" in result.stderr


def test_compose_runs_it_with_the_reader_dsn_after_metabase_is_healthy() -> None:
    services = yaml.safe_load((REPO_ROOT / "docker-compose.yaml").read_text())["services"]
    init = services["metabase-init"]
    assert init["command"][-1] == "/app/ops/metabase/setup_metabase.py"
    assert init["depends_on"] == {"metabase": {"condition": "service_healthy"}}
    assert init["environment"]["LAKEHOUSE_PG_DSN"].startswith("postgresql://lakehouse_reader:")
    assert init["environment"]["MB_URL"] == "http://metabase:3000"
