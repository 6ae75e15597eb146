"""`lakehouse demo` / `make demo`: the whole platform on this machine, no Docker.

The pieces land issue by issue; the demo starts what exists and says plainly what does not yet.
"""

from __future__ import annotations

import logging

from rich.console import Console
from rich.table import Table

from lakehouse.local.infra import LocalInfra
from lakehouse.paths import REPO_ROOT, env_file

log = logging.getLogger(__name__)
console = Console()

# (component, entry point that must exist for it to run)
PLANNED_COMPONENTS = (
    ("Binance producer", "producer.py"),
    ("Ingestion API (:8000)", "ingestion_api.py"),
    ("Company simulator", "fake_company.py"),
    ("Bronze stream", "consumer_lake.py"),
    ("Silver stream", "process_silver.py"),
    ("Trainer (MLflow)", "train_model.py"),
    ("Gold (dbt)", "dbt_project/dbt_project.yml"),
    ("Dashboard (:8501)", "dashboard.py"),
)


def run_demo() -> None:
    console.rule("[bold]market-data lakehouse: local demo")
    console.print("starting local Kafka and PostgreSQL ...")
    status = LocalInfra().up()
    table = Table("service", "state", "where")
    for component in status.components:
        table.add_row(component.name, "[green]running[/]" if component.healthy else "[red]down[/]", component.endpoint)
    for name, entry in PLANNED_COMPONENTS:
        built = (REPO_ROOT / entry).exists()
        table.add_row(name, "[yellow]not built yet[/]" if not built else "available", entry)
    console.print(table)
    console.print(f"connection settings: {env_file()}   stop the infra with: uv run lakehouse infra down")
