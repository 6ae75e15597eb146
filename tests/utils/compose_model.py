"""Read docker-compose.yaml the way docker compose does, without a Docker engine.

Pure helpers: parse a .env file, find the `${VAR}` references of the raw text, and interpolate a
loaded document with the rules of the Compose Specification (`${VAR}`, `${VAR:-default}`,
`${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `$VAR`, and `$$` for a literal `$`).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"

_REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class InterpolationError(ValueError):
    """A required variable is missing (what `docker compose` refuses to start with)."""


@dataclass(frozen=True)
class VariableUse:
    name: str
    operator: str | None  # None, "-", ":-", "?", ":?", "+", ":+"
    argument: str

    @property
    def required(self) -> bool:
        return self.operator in ("?", ":?")

    @property
    def has_default(self) -> bool:
        return self.operator in ("-", ":-")


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines (comments and blank lines ignored; quotes around a value removed)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise ValueError(f"line {number} is not KEY=VALUE: {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def variable_uses(text: str) -> list[VariableUse]:
    """Every `${VAR...}` / `$VAR` reference of a compose file's text, in order (`$$` skipped)."""
    uses = []
    for match in _REFERENCE.finditer(text):
        if match.group("escaped"):
            continue
        name = match.group("braced") or match.group("bare")
        uses.append(VariableUse(name, match.group("op"), match.group("arg") or ""))
    return uses


def interpolate_string(value: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        current = env.get(name)
        unset_or_empty = not current
        if op in (":?", "?") and (current is None or (op == ":?" and unset_or_empty)):
            raise InterpolationError(f"required variable {name} is missing a value: {arg}")
        if op in (":-", "-") and (current is None or (op == ":-" and unset_or_empty)):
            return interpolate_string(arg, env)
        if op in (":+", "+"):
            present = current is not None and (op == "+" or not unset_or_empty)
            return interpolate_string(arg, env) if present else ""
        return current or ""

    return _REFERENCE.sub(replace, value)


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """The document with every string interpolated (mapping keys too, as compose does)."""
    if isinstance(node, str):
        return interpolate_string(node, env)
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, dict):
        return {interpolate(key, env) if isinstance(key, str) else key: interpolate(v, env) for key, v in node.items()}
    return node


def load_compose(env: dict[str, str] | None = None, text: str | None = None) -> dict[str, Any]:
    """The compose document (YAML anchors and merge keys resolved), interpolated when `env` is given."""
    import yaml

    document = yaml.safe_load(COMPOSE_FILE.read_text() if text is None else text)
    return interpolate(document, env) if env is not None else document


def command_words(command: Any) -> list[str]:
    """A service's command or entrypoint as a word list (string form split like a shell)."""
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    return [str(word) for word in command]


def is_one_shot(service: dict[str, Any]) -> bool:
    """Init jobs run once and exit: restart "no" (anything else is a long-running service)."""
    return str(service.get("restart", "no")) == "no"


def published_ports(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of every `ports:` entry in short syntax."""
    result = []
    for entry in service.get("ports", []):
        parts = str(entry).split(":")
        if len(parts) != 3:
            raise ValueError(f"ports entry {entry!r} must be HOST_IP:HOST_PORT:CONTAINER_PORT")
        address, host, container = parts
        result.append((address, int(host), int(container.split("/")[0])))
    return result
