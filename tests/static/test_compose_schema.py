"""docker-compose.yaml validates against the Compose Specification JSON Schema (vendored, see NOTICE)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

pytestmark = pytest.mark.unit

SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _errors(validator: jsonschema.protocols.Validator, document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]


def test_compose_file_is_valid_as_written(validator, compose_raw) -> None:
    assert _errors(validator, compose_raw) == []


def test_compose_file_is_valid_after_interpolation(validator, compose) -> None:
    assert _errors(validator, compose) == []


@pytest.mark.parametrize(
    ("path", "bad_value", "expected"),
    [
        (("services", "spark-bronze", "depends_on", "kafka-init", "condition"), "service_done", "service_done"),
        (("services", "postgres", "healthcheck", "interval_s"), 10, "interval_s"),
        (("services", "kafka", "restart_policy"), "always", "restart_policy"),
    ],
)
def test_schema_check_catches_a_broken_file(validator, compose, path, bad_value, expected) -> None:
    # The check must not be vacuous: a typo that docker compose rejects fails it too.
    broken = copy.deepcopy(compose)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bad_value
    errors = _errors(validator, broken)
    assert errors and any(expected in error for error in errors), errors
