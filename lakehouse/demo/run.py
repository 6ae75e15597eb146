"""The local demo: infra, ingestion, streams, a periodic dbt build, a first training run, the dashboard.

Every service is a child process in its own process group (see `Supervisor`); Ctrl-C (or SIGTERM)
stops them all and the local infra this run started. Data, checkpoints and MLflow stay under
`.lakehouse/`, so a second run resumes where the first stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lakehouse.demo.supervisor import ServiceSpec, Supervisor, wait_for_port
from lakehouse.local import processes
from lakehouse.local.infra import LocalInfra
from lakehouse.paths import REPO_ROOT, env_file, logs_dir, state_dir
from lakehouse.settings import DemoSettings, Settings, load_demo_settings, load_settings

log = logging.getLogger(__name__)
# Wide enough for paths when the output is a log file rather than a terminal.
console = Console(width=None if sys.stdout.isatty() else 200)

COMPANY_CLIENT = "demo-company"


@dataclass
class DemoStatus:
    """Written to `.lakehouse/demo/status.json` for operators and the end-to-end test."""

    started_at: float = field(default_factory=time.time)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    first_candle_after_s: float | None = None
    model_version: str | None = None
    dbt_runs: int = 0
    last_dbt_error: str | None = None
    training: str = "waiting for silver history"
    training_runs: list[str] = field(default_factory=list)  # one line per finished run, for operators

    def record_training_run(self, rows: int, outcome: str) -> None:
        self.training = outcome
        self.training_runs.append(f"after {time.time() - self.started_at:.0f}s on {rows} silver rows: {outcome}")
        self.save()

    def save(self) -> None:
        path = state_dir() / "demo" / "status.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, default=str))


def _export_env_file() -> None:
    """Children inherit the connection settings even when LAKEHOUSE_HOME points elsewhere."""
    for line in env_file().read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            os.environ.setdefault(key, value.strip("'"))


def _company_key() -> tuple[str, str]:
    """A stable API key for the simulated company (created once, kept private under .lakehouse/)."""
    path = state_dir() / "demo" / "company-api-key.json"
    if path.exists():
        stored = json.loads(path.read_text())
        return stored["key"], stored["digest"]
    key = secrets.token_urlsafe(32)
    digest = hashlib.sha256(key.encode()).hexdigest()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"client": COMPANY_CLIENT, "key": key, "digest": digest}, handle)
    return key, digest


def _port(preferred: int, what: str) -> int:
    if not processes.port_in_use(preferred):
        return preferred
    port = processes.free_port()
    console.print(f"[yellow]port {preferred} is busy: {what} uses {port} instead[/]")
    return port


def service_specs(settings: Settings, options: DemoSettings, api_port: int, dashboard_port: int) -> list[ServiceSpec]:
    """What the demo runs, in start order (pure: easy to read and to test)."""
    python = sys.executable
    logs = logs_dir()
    key, digest = _company_key()
    api_keys = ",".join([*(f"{c}:{d}" for c, d in settings.api_keys.items() if c != COMPANY_CLIENT),
                         f"{COMPANY_CLIENT}:{digest}"])  # fmt: skip
    api_url = f"http://127.0.0.1:{api_port}"
    return [
        ServiceSpec(
            "producer",
            [
                python,
                "producer.py",
                "--source",
                "live",
                "--fallback",
                "standin",
                "--standin-rate",
                str(options.standin_rate),
                "--metrics-port",
                str(processes.free_port()),
            ],
            logs / "producer.log",
        ),
        ServiceSpec(
            "ingestion-api",
            [python, "ingestion_api.py", "--host", "127.0.0.1", "--port", str(api_port), "--workers", "1"],
            logs / "ingestion_api.log",
            url=f"{api_url}/docs",
            env={"LAKEHOUSE_API_KEYS": api_keys},
        ),
        ServiceSpec(
            "company-simulator",
            [python, "fake_company.py", "--api-url", api_url, "--rate", str(options.company_rate), "--batch", "20"],
            logs / "fake_company.log",
            env={"LAKEHOUSE_COMPANY_API_KEY": key},
        ),
        ServiceSpec("bronze-stream", [python, "consumer_lake.py"], logs / "consumer_lake.log"),
        ServiceSpec(
            "silver-stream",
            [python, "process_silver.py"],
            logs / "process_silver.log",
            env={"LAKEHOUSE_SILVER_SCORER": settings.silver_scorer or ""},
        ),
        ServiceSpec(
            "dashboard",
            [
                python,
                "-m",
                "streamlit",
                "run",
                "dashboard.py",
                "--server.port",
                str(dashboard_port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            logs / "dashboard.log",
            url=f"http://127.0.0.1:{dashboard_port}",
        ),
    ]


def _silver_rows(settings: Settings) -> int:
    import psycopg

    try:
        with psycopg.connect(settings.require_pg_dsn(), connect_timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM silver.trades").fetchone()
    except psycopg.Error:
        return 0
    return int(row[0]) if row else 0


def _gold_candles(settings: Settings) -> int:
    import psycopg

    try:
        with psycopg.connect(settings.require_pg_dsn(), connect_timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM gold.candles_1m").fetchone()
    except psycopg.Error:
        return 0
    return int(row[0]) if row else 0


def _dbt_loop(settings: Settings, options: DemoSettings, status: DemoStatus, stop: threading.Event) -> None:
    from lakehouse.gold.dbt import DbtError, build_gold

    while not stop.wait(0 if status.dbt_runs == 0 else options.dbt_interval_s):
        if _silver_rows(settings) == 0:
            stop.wait(5)
            continue
        try:
            build_gold(settings)
            status.dbt_runs += 1
            status.last_dbt_error = None
        except DbtError as error:
            status.last_dbt_error = str(error)[-500:]
            log.warning("dbt build failed (retrying in %.0fs); see %s", options.dbt_interval_s, logs_dir() / "dbt")
        if status.first_candle_after_s is None and _gold_candles(settings) > 0:
            status.first_candle_after_s = round(time.time() - status.started_at, 1)
            console.print(f"[green]first gold candle after {status.first_candle_after_s}s[/]")
        status.save()


def _run_stoppable(args: list[str], log_file: Path, stop: threading.Event) -> int | None:
    """Run a command in its own process group; kill the whole group if the demo stops first (None)."""
    import subprocess

    with open(log_file, "ab") as out:
        process = subprocess.Popen(
            args, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    while process.poll() is None:
        if stop.wait(1):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return None
    return process.returncode


def _training_loop(settings: Settings, options: DemoSettings, status: DemoStatus, stop: threading.Event) -> None:
    from lakehouse.ml import registry

    while not stop.wait(options.train_check_s):
        rows = _silver_rows(settings)
        if rows < options.train_after_rows:
            status.training = f"waiting for silver history ({rows}/{options.train_after_rows} trades)"
            continue
        status.training = "training"
        status.save()
        returncode = _run_stoppable(
            [sys.executable, "train_model.py", "--min-train-rows", "500"], logs_dir() / "train_model.log", stop
        )
        if returncode is None:  # the demo is stopping
            return
        if returncode == 0:
            registry.connect_mlflow(settings)
            champion = registry.current_champion()
            status.model_version = champion.version if champion else None
            if champion:
                status.record_training_run(rows, f"trained; champion v{status.model_version}")
                console.print(f"[green]{status.training}[/]")
                return
            # Registered but it did not beat the naive forecast: try again with more history.
            status.record_training_run(
                rows, "trained; not better than the naive forecast yet, retrying with more history"
            )
            if stop.wait(options.train_retry_s):
                return
            continue
        status.record_training_run(
            rows, f"training exited {returncode}; retrying (see {logs_dir() / 'train_model.log'})"
        )


def _print_services(supervisor: Supervisor, settings: Settings) -> None:
    table = Table("service", "pid", "url", "log", title="market-data lakehouse: local demo")
    table.add_row("kafka", "-", settings.kafka_bootstrap, str(logs_dir() / "kafka.log"))
    table.add_row("postgres", "-", (settings.pg_dsn or "").rsplit("@", 1)[-1], str(logs_dir() / "postgres.log"))
    for managed in supervisor.services.values():
        pid = str(managed.process.pid) if managed.process else "-"
        table.add_row(managed.spec.name, pid, managed.spec.url, str(managed.spec.log_file))
    table.add_row("dbt build (every 45 s)", "-", "gold.* in PostgreSQL", str(logs_dir() / "dbt"))
    table.add_row("trainer", "-", settings.mlflow_tracking_uri, str(logs_dir() / "train_model.log"))
    console.print(table)


def _interrupt(_signal: int, _frame: object) -> None:
    """SIGTERM handler: stop the way Ctrl-C does."""
    raise KeyboardInterrupt


def run_demo(options: DemoSettings | None = None) -> None:
    options = options or load_demo_settings()
    status = DemoStatus()
    console.rule("[bold]market-data lakehouse: local demo")
    console.print("[1/4] starting local Kafka and PostgreSQL ...")
    infra = LocalInfra()
    infra_was_running = infra.status().healthy
    infra.up()
    _export_env_file()
    settings = load_settings()
    api_port = _port(options.api_port, "the ingestion API")
    dashboard_port = _port(options.dashboard_port, "the dashboard")

    console.print("[2/4] starting ingestion, streams and the dashboard ...")
    supervisor = Supervisor(base_env=dict(os.environ), cwd=REPO_ROOT)
    stop = threading.Event()
    # Ctrl-C and SIGTERM take the same clean shutdown path. SIGINT is set explicitly: a process started
    # in the background by a non-interactive shell inherits SIGINT *ignored*, and would never stop.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    threads: list[threading.Thread] = []
    try:
        specs = service_specs(settings, options, api_port, dashboard_port)
        for spec in specs:
            supervisor.start(spec)
            if spec.name == "ingestion-api" and not wait_for_port(api_port, 60):
                console.print(f"[red]the ingestion API did not open port {api_port}; see {spec.log_file}[/]")
        console.print("[3/4] scheduling dbt builds and the first training run ...")
        for target in (_dbt_loop, _training_loop):
            thread = threading.Thread(target=target, args=(settings, options, status, stop), daemon=True)
            thread.start()
            threads.append(thread)
        _print_services(supervisor, settings)
        status.services = {
            name: {"pid": m.process.pid if m.process else None, "url": m.spec.url, "log": str(m.spec.log_file)}
            for name, m in supervisor.services.items()
        }
        status.save()
        console.print("[4/4] running. Open the dashboard; Ctrl-C stops everything.")
        deadline = time.monotonic() + options.duration_s if options.duration_s else None
        reported: set[str] = set()
        while deadline is None or time.monotonic() < deadline:
            for name in set(supervisor.check()) - reported:
                console.print(f"[red]{name} keeps exiting; gave up restarting it, see {logs_dir()}[/]")
                reported.add(name)
            time.sleep(2)
    except KeyboardInterrupt:
        console.print("\nstopping ...")
    finally:
        # A second Ctrl-C must not cut the shutdown short and orphan the services.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop.set()
        supervisor.stop_all()
        for thread in threads:
            thread.join(timeout=60)
        if options.stop_infra and not infra_was_running:
            infra.down()
        status.save()
        console.print(f"stopped. Data and checkpoints are kept in {state_dir()}; `make demo` resumes.")
