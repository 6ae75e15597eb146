"""Where the local platform keeps its state: everything lives under one `.lakehouse/` folder."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    """The local state folder (`.lakehouse/` beside the repo, or `LAKEHOUSE_HOME`)."""
    return Path(os.environ.get("LAKEHOUSE_HOME", REPO_ROOT / ".lakehouse")).resolve()


def env_file() -> Path:
    """Shell `export` lines written by `lakehouse infra up`, read by every service."""
    return state_dir() / "env"


def jars_dir() -> Path:
    """Resolved JVM jars; LAKEHOUSE_JARS_DIR lets several state folders share one copy."""
    override = os.environ.get("LAKEHOUSE_JARS_DIR")
    return Path(override).resolve() if override else state_dir() / "jars"


def logs_dir() -> Path:
    return state_dir() / "logs"
