"""Metric names: what a PromQL expression reads, and what a registry or an endpoint really exports."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless"}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}
# cAdvisor declares its metrics as `name: "container_..."` in these files of the pinned module.
_GO_NAME = re.compile(r'name:\s+"((?:container|machine)_[a-z0-9_]+)"')


def promql_metrics(expr: str) -> set[str]:
    """Metric names an expression selects (function names, label names and keywords are not metrics)."""
    text = _RANGES.sub(" ", _MATCHERS.sub(" ", _GROUPING.sub(" ", _STRINGS.sub('""', expr))))
    names = set()
    for match in _IDENT.finditer(text):
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or match.group() in _KEYWORDS:
            continue
        if match.start() > 0 and (text[match.start() - 1].isdigit() or text[match.start() - 1] == "."):
            continue  # e.g. the "e" of 1e-3 or a unit suffix of a duration
        names.add(match.group())
    return names


def _family_names(families: Iterable[Metric]) -> set[str]:
    names: set[str] = set()
    for family in families:
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def registry_names(registry: CollectorRegistry) -> set[str]:
    return _family_names(registry.collect())


def exposition_names(text: str) -> set[str]:
    return _family_names(text_string_to_metric_families(text))


def cadvisor_names(module_dir: Path) -> set[str]:
    return {m for path in (module_dir / "metrics").glob("prometheus*.go") for m in _GO_NAME.findall(path.read_text())}
