"""docker-compose.yaml validates against the Compose Specification JSON Schema (vendored, see NOTICE)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.utils.compose_model import COMPOSE_FILE

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


def _merged_keys(node: yaml.MappingNode) -> set[str]:
    keys = set()
    for key, value in node.value:
        if key.tag == "tag:yaml.org,2002:merge":
            for sub in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                keys |= _merged_keys(sub)
        else:
            keys.add(key.value)
    return keys


def _merge_overlaps(node: yaml.Node, found: list[str]) -> list[str]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge" and isinstance(value, yaml.SequenceNode):
                seen: set[str] = set()
                for sub in value.value:
                    keys = _merged_keys(sub)
                    found.extend(f"line {key.start_mark.line + 1}: {k}" for k in sorted(keys & seen))
                    seen |= keys
            _merge_overlaps(value, found)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _merge_overlaps(item, found)
    return found


def test_merged_maps_never_share_a_key() -> None:
    # YAML libraries disagree on which map wins when `<<: [*a, *b]` both set a key (docker compose:
    # the first; PyYAML 6.0.4: the last), so the file must never depend on it.
    assert _merge_overlaps(yaml.compose(COMPOSE_FILE.read_text()), []) == []
    overlapping = "a: &a {k: 1}\nb: &b {k: 2}\nc:\n  <<: [*a, *b]\n"
    assert _merge_overlaps(yaml.compose(overlapping), []) == ["line 4: k"]
