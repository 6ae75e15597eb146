"""Each image installs only what its services import, and everything they import.

An image is a dependency group of pyproject.toml, exported to requirements/<group>.txt. The services'
entry points are followed through the platform's own modules (every `import`, function-level ones
included, since a lazy import runs too once its code path does), and each third-party module they
reach must come from a distribution pinned in the image's requirements. The compose run then starts
every service from these images.
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.utils.compose_model import REPO

HEALTHCHECK = "ops/docker/healthcheck.py"
# Image (dependency group) -> the scripts its services run, and the modules they load by name.
ENTRY_POINTS = {
    "ingest": ["ingestion_api.py", "producer.py", "fake_company.py", "ops/metabase/setup_metabase.py", HEALTHCHECK],
    "dbt": [HEALTHCHECK],
    "mlflow-server": ["ops/mlflow/prepare_auth.py", HEALTHCHECK],
    "dashboard": ["dashboard.py", HEALTHCHECK],
    # The silver scorer is loaded by name (LAKEHOUSE_SILVER_SCORER), which no import statement shows.
    "spark": ["consumer_lake.py", "process_silver.py", "lakehouse/ml/scoring.py", HEALTHCHECK],
    "airflow": ["dags/dbt_gold.py", "dags/lake_maintenance.py", "dags/retrain_model.py", "train_model.py", HEALTHCHECK],
}
# Command-line programs the services run, which no import shows: image -> distributions.
PROGRAMS = {
    "dbt": {"dbt-core", "dbt-postgres"},
    "mlflow-server": {"mlflow"},  # `mlflow server --app-name basic-auth`
    "dashboard": {"streamlit"},
    "spark": {"pyspark"},  # spark-class (master, worker)
    "airflow": {"apache-airflow", "dbt-core", "dbt-postgres", "mlflow"},
}
# Reached by a function the image's services never call: (image, module) -> why.
NOT_ON_THEIR_PATH = {
    ("ingest", "pyspark"): "lakehouse.schema.trade's spark_schema(), which only the Spark jobs call",
}
# The heavy distributions and the only images that may hold them.
HEAVY = {
    "pyspark": {"spark", "airflow"},
    "apache-airflow-core": {"airflow"},
    "streamlit": {"dashboard"},
    "scikit-learn": {"mlflow-server", "airflow"},
    "dbt-core": {"dbt", "airflow"},
    "deltalake": {"dashboard", "airflow"},
}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def pins(group: str) -> frozenset[str]:
    text = (REPO / "requirements" / f"{group}.txt").read_text()
    return frozenset(_normalise(line.split("==")[0]) for line in text.splitlines() if "==" in line)


def _own_module(name: str) -> Path | None:
    path = REPO.joinpath(*name.split("."))
    if (path / "__init__.py").exists():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").exists() else None


def _imported_names(path: Path) -> list[str]:
    """Every module name `path` imports, function-level ones included, TYPE_CHECKING blocks not."""
    tree = ast.parse(path.read_text())
    package = list(path.relative_to(REPO).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package[:-1]
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.append(module)
            names.extend(f"{module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def third_party_modules(entry_points: list[str]) -> set[str]:
    """Top-level third-party modules reachable from the scripts through the platform's own code."""
    found: set[str] = set()
    pending = [REPO / entry for entry in entry_points]
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imported_names(path):
            parts = name.split(".")
            own = [_own_module(".".join(parts[: i + 1])) for i in range(len(parts))]
            if own[0] is not None:
                pending.extend(module for module in own if module is not None)
            elif parts[0] not in sys.stdlib_module_names and parts[0] != "__future__":
                found.add(parts[0])
    return found


def test_the_walk_sees_lazy_imports_and_skips_type_checking(tmp_path: Path) -> None:
    # The dashboard imports mlflow inside a function; pyspark appears only under TYPE_CHECKING there.
    modules = third_party_modules(["dashboard.py"])
    assert {"mlflow", "streamlit", "psycopg", "deltalake"} <= modules
    assert "pyspark" not in modules


@pytest.mark.parametrize("group", sorted(ENTRY_POINTS))
def test_every_module_the_services_import_is_installed(group: str) -> None:
    distributions = packages_distributions()
    missing = []
    for module in sorted(third_party_modules(ENTRY_POINTS[group])):
        if (group, module) in NOT_ON_THEIR_PATH:
            continue
        candidates = {_normalise(name) for name in distributions.get(module, [module])}
        if not candidates & pins(group):
            missing.append(f"{module} (from {sorted(candidates)})")
    assert not missing, f"requirements/{group}.txt lacks {missing}: add it to the group in pyproject.toml"
    assert PROGRAMS.get(group, set()) <= pins(group)


@pytest.mark.parametrize(("group", "module"), sorted(NOT_ON_THEIR_PATH))
def test_exceptions_are_still_needed(group: str, module: str) -> None:
    # An exception the code no longer needs would hide the next real gap.
    assert module in third_party_modules(ENTRY_POINTS[group])
    assert module not in pins(group)


@pytest.mark.parametrize("distribution", sorted(HEAVY))
def test_heavy_distributions_stay_in_the_images_that_use_them(distribution: str) -> None:
    holders = {group for group in ENTRY_POINTS if distribution in pins(group)}
    assert holders == HEAVY[distribution]


def test_the_airflow_image_runs_the_spark_image_s_exact_versions() -> None:
    # Airflow's tasks are Spark drivers whose executors run in the spark image: same Python libraries.
    def pinned(group: str) -> set[str]:
        text = (REPO / "requirements" / f"{group}.txt").read_text()
        # name==version without the environment markers, which the two exports may word differently.
        return {line.split(";")[0].strip() for line in text.splitlines() if "==" in line}

    assert pinned("spark") <= pinned("airflow")
