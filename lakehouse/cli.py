"""The `lakehouse` command line."""

from __future__ import annotations

import hashlib
import logging
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lakehouse.local.errors import InfraError
from lakehouse.local.infra import InfraStatus
from lakehouse.logging_setup import configure_logging
from lakehouse.ml.cli import main as train_main
from lakehouse.orchestration.tasks import VACUUM_RETENTION_HOURS
from lakehouse.settings import Settings, SettingsError, load_settings

app = typer.Typer(help="Real-time market-data lakehouse: local runtime and tools.", no_args_is_help=True)
infra_app = typer.Typer(help="The local Kafka broker and PostgreSQL server.", no_args_is_help=True)
apikey_app = typer.Typer(help="Ingestion API keys.", no_args_is_help=True)
images_app = typer.Typer(help="Stand-in images for a machine without a container registry.", no_args_is_help=True)
app.add_typer(infra_app, name="infra")
app.add_typer(apikey_app, name="apikey")
app.add_typer(images_app, name="images")

console = Console()
log = logging.getLogger("lakehouse.cli")
# Commands that hand the rest of their command line to another program (dbt, a streaming job).
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def _fail(error: Exception) -> NoReturn:
    console.print(f"[bold red]error:[/] {error}")
    raise typer.Exit(code=1)


def _print_status(status: InfraStatus) -> None:
    table = Table("component", "running", "healthy", "pid", "endpoint")
    for component in status.components:
        table.add_row(
            component.name,
            "yes" if component.running else "no",
            "[green]yes[/]" if component.healthy else "[red]no[/]",
            str(component.pid or "-"),
            component.endpoint,
        )
    console.print(table)
    for component in status.components:
        console.print(f"{component.name} log: {component.detail}", soft_wrap=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        _fail(error)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    configure_logging("DEBUG" if verbose else None)


@infra_app.command("up")
def infra_up(
    partitions: int = typer.Option(None, help="Partitions of raw-trades when it is created (default 3)."),
) -> None:
    """Start Kafka and PostgreSQL (idempotent) and write .lakehouse/env."""
    from lakehouse.local.infra import LocalInfra
    from lakehouse.paths import env_file

    try:
        status = LocalInfra().up(partitions=partitions)
    except (InfraError, SettingsError) as error:
        _fail(error)
    _print_status(status)
    console.print(f"connection settings: [bold]{env_file()}[/]  (load them with: . {env_file()})")
    if not status.healthy:
        raise typer.Exit(code=1)


@infra_app.command("down")
def infra_down() -> None:
    """Stop the local Kafka and PostgreSQL (data is kept)."""
    from lakehouse.local.infra import LocalInfra

    try:
        LocalInfra().down()
    except InfraError as error:
        _fail(error)


@infra_app.command("status")
def infra_status() -> None:
    """Report each component's health; exit 1 when one is unhealthy."""
    from lakehouse.local.infra import LocalInfra

    status = LocalInfra().status()
    _print_status(status)
    if not status.healthy:
        raise typer.Exit(code=1)


@apikey_app.command("create")
def apikey_create(client: str = typer.Argument(..., help="Client name, e.g. tsla-feed")) -> None:
    """Print a new random API key once, and the LAKEHOUSE_API_KEYS entry that admits it."""
    from lakehouse.settings import _CLIENT_NAME

    if not _CLIENT_NAME.match(client):
        _fail(ValueError("client names use letters, digits, '.', '_' or '-' (at most 64)"))
    key = secrets.token_urlsafe(32)
    digest = hashlib.sha256(key.encode()).hexdigest()
    console.print(f"API key for {client} (shown once, keep it secret):")
    sys.stdout.write(key + "\n")
    console.print("add this entry to LAKEHOUSE_API_KEYS (comma-separated):")
    sys.stdout.write(f"{client}:{digest}\n")


@app.command("demo")
def demo(
    duration: float = typer.Option(None, help="Stop after this many seconds (default: until Ctrl-C)."),
    api_port: int = typer.Option(None, help="Ingestion API port (default 8000; a free one is used if busy)."),
    dashboard_port: int = typer.Option(None, help="Dashboard port (default 8501; a free one is used if busy)."),
) -> None:
    """Run the whole local platform (infra, ingestion, streams, dbt, training, dashboard)."""
    from lakehouse.demo import run_demo
    from lakehouse.settings import load_demo_settings

    given = {"duration_s": duration, "api_port": api_port, "dashboard_port": dashboard_port}
    try:
        # Options given on the command line win over LAKEHOUSE_DEMO_* variables.
        run_demo(load_demo_settings(**{name: value for name, value in given.items() if value is not None}))
    except (InfraError, SettingsError) as error:
        _fail(error)


@app.command("jars")
def jars() -> None:
    """Resolve the pinned JVM jars into .lakehouse/jars (offline after the first run), then the Spark class archive."""
    from lakehouse.local.jars import ensure_jars, spark_jars
    from lakehouse.spark.class_archive import ensure_archive

    try:
        folder = ensure_jars()
    except InfraError as error:
        _fail(error)
    console.print(f"jars ready in {folder} ({len(spark_jars())} added to Spark)")
    archive = ensure_archive()
    console.print(f"Spark class archive: {archive.name if archive else 'none (jobs start without it)'}")


@images_app.command("build")
def images_build(
    force: bool = typer.Option(False, "--force", help="Rebuild the base images and build without the layer cache."),
    host_ca: bool = typer.Option(
        True,
        "--host-ca/--no-host-ca",
        help="Let our image builds trust the CAs this machine trusts beyond Debian's (a proxy's, a mirror's): "
        "written to ops/docker/ca-certificates/.",
    ),
) -> None:
    """Build the Debian bases and the stand-ins that docker-compose.airgap.yaml swaps in."""
    from lakehouse.airgap.bases import PYTHON, BuildError
    from lakehouse.airgap.extra_ca import write_extra_ca
    from lakehouse.airgap.go_tools import GoToolUnavailable
    from lakehouse.airgap.standins import build_all

    try:
        build_all(force=force, progress=console.print)
        if host_ca:
            count = write_extra_ca(PYTHON.tag)
            console.print(f"{count} extra CA certificate(s) for image builds in ops/docker/ca-certificates/")
    except (BuildError, GoToolUnavailable, RuntimeError) as error:
        _fail(error)


app.command("train")(train_main)


@app.command("stream", context_settings=PASS_THROUGH)
def stream(
    ctx: typer.Context,
    job: str = typer.Argument(..., help="bronze or silver; the job's own options follow (--once, --topic, ...)."),
) -> None:
    """Run a streaming job: `lakehouse stream silver --once` (what consumer_lake.py / process_silver.py run)."""
    from lakehouse.stream.cli import main as stream_main

    if job not in ("bronze", "silver"):
        raise typer.BadParameter("expected bronze or silver", param_hint="JOB")
    raise typer.Exit(stream_main(job, ctx.args))  # type: ignore[arg-type]


@app.command("dbt", context_settings=PASS_THROUGH)
def dbt(ctx: typer.Context) -> None:
    """Run dbt on the gold project with this platform's connection: `lakehouse dbt build`, `lakehouse dbt test`."""
    from lakehouse.gold.dbt import DBT_PROJECT_DIR, dbt_invocation

    try:
        command, env = dbt_invocation(_settings(), *ctx.args)
    except SettingsError as error:  # no PostgreSQL configured: say so instead of a traceback
        _fail(error)
    raise typer.Exit(subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, check=False).returncode)


@app.command("maintain")
def maintain(
    retention_hours: int = typer.Option(VACUUM_RETENTION_HOURS, help="VACUUM keeps files at least this recent."),
) -> None:
    """Compact (OPTIMIZE) and VACUUM every Delta table of the lake: what Airflow's lake_maintenance runs daily."""
    from lakehouse.orchestration.tasks import maintain_lake

    try:
        report = maintain_lake(_settings(), retention_hours=retention_hours)
    except ValueError as error:
        _fail(error)
    for table, figures in report.items():
        console.print(f"{table}: {figures}")


@app.command("sql")
def sql(
    statement: str = typer.Argument(
        ..., help='One SQL query, e.g. "SELECT symbol, count(*) FROM silver_trades GROUP BY 1".'
    ),
    limit: int = typer.Option(50, help="Rows to print at most."),
) -> None:
    """Query the lake's Delta tables (bronze_trades, silver_trades, silver_quarantine) with SQL, no Spark."""
    from lakehouse.lake import LakeError
    from lakehouse.lake import sql as lake_sql

    try:
        result = lake_sql(_settings(), statement)
    except LakeError as error:
        _fail(error)
    table = Table(*result.column_names)
    for row in result.slice(0, limit).to_pylist():
        # The lake's text is data, not rich markup: a value like "[red]" is printed as it is.
        table.add_row(*("" if value is None else escape(str(value)) for value in row.values()))
    console.print(table)
    shown = min(limit, result.num_rows)
    console.print(f"{result.num_rows} row(s)" + (f", first {shown} shown" if shown < result.num_rows else ""))


@app.command("status")
def status() -> None:
    """Each layer's rows, newest data and Kafka lag, from Kafka to gold; exit 1 when a layer cannot be read."""
    from lakehouse.platform_status import collect, describe_age

    layers = collect(_settings())
    now = datetime.now(UTC)
    table = Table("layer", "rows", "newest", "kafka lag", "problem")
    for layer in layers:
        table.add_row(
            layer.layer,
            "-" if layer.rows is None else f"{layer.rows:,}",
            describe_age(layer.newest, now),
            "-" if layer.lag is None else f"{layer.lag:,}",
            f"[red]{escape(layer.problem)}[/]" if layer.failed else escape(layer.problem),
        )
    console.print(table)
    if any(layer.failed for layer in layers):
        raise typer.Exit(code=1)


if __name__ == "__main__":
    app()
