"""docs/configuration.md, written from the Settings classes: `uv run python -m lakehouse.settings_docs`.

A test compares the committed file with what this renders, so the reference cannot fall behind the code.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from lakehouse.paths import state_dir
from lakehouse.settings import ENV_PREFIX, DemoSettings, Settings

HEADER = """# Configuration

Every setting is an environment variable with the `LAKEHOUSE_` prefix. Values come from (highest first) the
process environment, `.lakehouse/env` (written by `lakehouse infra up` in local mode), then `.env` (docker
compose). A bad value stops the service at start with a message naming the variable. No secret has a default:
local mode generates its own (`.lakehouse/secrets.json`), and outside `local` they must be set.

Generated from `lakehouse/settings.py` by `uv run python -m lakehouse.settings_docs > docs/configuration.md`.
"""

SECTIONS: tuple[tuple[str, type[BaseSettings], str], ...] = (
    ("Platform", Settings, ENV_PREFIX),
    ("`make demo` (`lakehouse demo`)", DemoSettings, f"{ENV_PREFIX}DEMO_"),
)


# Variables that are not settings of the platform: switches of the set-up and the test suite, and one
# internal hand-off between processes. Listed so every LAKEHOUSE_ name in the repository is documented.
SWITCHES: dict[str, str] = {
    "LAKEHOUSE_INSTALL_DOCKER": "`1`: `scripts/bootstrap.sh` also installs Docker and mmdebstrap (`make test` sets it)",
    "LAKEHOUSE_BROWSER_TESTS": "`0`: `scripts/bootstrap.sh` does not install Chromium (browser tests then skip)",
    "LAKEHOUSE_COMPOSE_REUSE": "`1`: the compose tests drive the stack already running instead of building one",
    "LAKEHOUSE_KEEP_COMPOSE": "`1`: the compose tests leave their stack running",
    "LAKEHOUSE_KEEP_INFRA": "`1`: the test session leaves the local Kafka and PostgreSQL it started running",
    "LAKEHOUSE_SPARK_CLASS_ARCHIVE_DUMP": "internal: set by the class-archive build for the JVM it starts",
}


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if value is None or value in ({}, []):
        return "unset"
    if isinstance(value, list):
        value = ",".join(str(item) for item in value)
    if isinstance(value, bool):
        value = "true" if value else "false"
    # Defaults under the state folder are shown relative to it, the same on every machine.
    text = str(value).replace(state_dir().as_uri(), ".lakehouse").replace(str(state_dir()), ".lakehouse")
    return f"`{text}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    lines = [HEADER]
    for title, model, prefix in SECTIONS:
        lines += [f"## {title}", "", "| variable | default | meaning |", "|---|---|---|"]
        for name, field in model.model_fields.items():
            variable = f"`{prefix}{name.upper()}`"
            lines.append(f"| {variable} | {_cell(_default(field))} | {_cell(field.description or '')} |")
        lines.append("")
    lines += ["## Set-up and test switches (not settings)", "", "| variable | meaning |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in SWITCHES.items()]
    lines.append("")
    return "\n".join(lines)


def variables() -> set[str]:
    """Every variable the Settings classes read."""
    return {f"{prefix}{name.upper()}" for _, model, prefix in SECTIONS for name in model.model_fields}


if __name__ == "__main__":
    if sys.argv[1:] == ["--json"]:
        sys.stdout.write(json.dumps(sorted(variables()), indent=2) + "\n")
    else:
        sys.stdout.write(render())
