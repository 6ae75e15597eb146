"""The `lakehouse` command line."""

from __future__ import annotations

import hashlib
import logging
import secrets
import sys

import typer
from rich.console import Console
from rich.table import Table

from lakehouse.local.errors import InfraError
from lakehouse.local.infra import InfraStatus
from lakehouse.logging_setup import configure_logging
from lakehouse.settings import SettingsError

app = typer.Typer(help="Real-time market-data lakehouse: local runtime and tools.", no_args_is_help=True)
infra_app = typer.Typer(help="The local Kafka broker and PostgreSQL server.", no_args_is_help=True)
apikey_app = typer.Typer(help="Ingestion API keys.", no_args_is_help=True)
images_app = typer.Typer(help="Stand-in images for a machine without a container registry.", no_args_is_help=True)
app.add_typer(infra_app, name="infra")
app.add_typer(apikey_app, name="apikey")
app.add_typer(images_app, name="images")

console = Console()
log = logging.getLogger("lakehouse.cli")


def _fail(error: Exception) -> None:
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
        return
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
    duration: float = typer.Option(0, help="Stop after this many seconds (0: until Ctrl-C)."),
    api_port: int = typer.Option(8000, help="Ingestion API port (a free one is used if busy)."),
    dashboard_port: int = typer.Option(8501, help="Dashboard port (a free one is used if busy)."),
) -> None:
    """Run the whole local platform (infra, ingestion, streams, dbt, training, dashboard)."""
    from lakehouse.demo import run_demo
    from lakehouse.demo.run import demo_options_from_env

    options = demo_options_from_env()
    options.duration_s = duration or options.duration_s
    options.api_port, options.dashboard_port = api_port, dashboard_port
    try:
        run_demo(options)
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
        return
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


if __name__ == "__main__":
    app()
