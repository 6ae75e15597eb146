"""docs/configuration.md is what the Settings classes say, and every LAKEHOUSE_ variable is in it."""

from __future__ import annotations

import re
from pathlib import Path

from lakehouse.paths import REPO_ROOT
from lakehouse.settings_docs import SWITCHES, render, variables

# Where variables are read or set: the code, its entry points, DAGs, images, compose, set-up, tests.
SEARCHED = ("lakehouse", "dags", "ops", "scripts", "tests", "bench", "*.py", "docker-compose*.yaml", "Dockerfile*",
            ".env.example", "Makefile")  # fmt: skip
NAME = re.compile(r"LAKEHOUSE_[A-Z0-9_]*[A-Z0-9]\b(?!_?\{)")


def referenced() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for pattern in SEARCHED:
        paths = [REPO_ROOT / pattern] if (REPO_ROOT / pattern).is_dir() else REPO_ROOT.glob(pattern)
        for root in paths:
            files = root.rglob("*") if root.is_dir() else [root]
            for path in files:
                if path.is_file() and path.suffix not in {".pyc", ".jar", ".gz", ".png", ".json"}:
                    for name in NAME.findall(path.read_text(errors="ignore")):
                        found.setdefault(name, path)
    return found


def test_the_committed_reference_is_current() -> None:
    committed = (REPO_ROOT / "docs" / "configuration.md").read_text()
    assert committed == render(), "regenerate it: uv run python -m lakehouse.settings_docs > docs/configuration.md"


def test_every_variable_the_repository_uses_is_documented() -> None:
    documented = variables() | set(SWITCHES)
    unknown = {name: str(path.relative_to(REPO_ROOT)) for name, path in referenced().items() if name not in documented}
    # A name used as a prefix (LAKEHOUSE_DEMO_ in f-strings) is not a variable.
    unknown = {name: path for name, path in unknown.items() if not any(v.startswith(name + "_") for v in documented)}
    assert not unknown, f"add these to Settings (or SWITCHES) and regenerate docs/configuration.md: {unknown}"


def test_no_module_reads_a_setting_behind_the_settings_back() -> None:
    reads = re.compile(r"(?:environ\.get|getenv|environ\[)\(?\s*[\"'](LAKEHOUSE_[A-Z0-9_]+)")
    allowed = {"paths.py"}  # it locates .lakehouse/env, so it runs before any settings can be read
    offenders = []
    for path in (REPO_ROOT / "lakehouse").rglob("*.py"):
        for name in reads.findall(path.read_text()):
            if name in variables() and path.name not in allowed:
                offenders.append(f"{path.relative_to(REPO_ROOT)}: {name}")
    assert not offenders, offenders
