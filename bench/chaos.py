"""Chaos: random faults while the API, the producer and both streams run, then an exact reconciliation.

A private platform (its own LAKEHOUSE_HOME: Kafka, PostgreSQL, lake) runs the ingestion API under a
steady load of acknowledged trades (every 202 goes into a ledger), the producer on the exchange
stand-in, and `consumer_lake.py` / `process_silver.py` as continuous jobs, restarted whenever they exit.
Meanwhile, at random moments:

- `kill -9` of each streaming job (the Python driver and its JVM), `--kills-per-job` times each;
- Kafka killed (`kill -9`) under API load and restarted after `--kafka-outage-s`;
- PostgreSQL stopped for `--pg-stop-s`, and frozen (SIGSTOP of the server and its backends) for
  `--pg-freeze-s`.

Then the load stops, the jobs drain what Kafka holds (`--once`), and bench.chaos_ledger reconciles:
Kafka = bronze; silver + quarantine + duplicates = bronze; PostgreSQL = Delta silver; every
acknowledged trade in silver once. Results go to bench/results/chaos.json.

    uv run python -m bench.chaos                      # the full run (about 25 minutes on 2 cores)
    uv run python -m bench.chaos --short              # the few-minute version `make test` runs
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.chaos_ledger import BronzeRecord, Identity, Layers, Reconciliation, reconcile
from bench.common import write_result
from lakehouse.demo.supervisor import Managed, ServiceSpec, Supervisor, wait_for_port
from lakehouse.local import processes
from lakehouse.paths import REPO_ROOT, jars_dir, state_dir

log = logging.getLogger("bench.chaos")

API_CLIENT = "chaos"
STREAM_JOBS = ("consumer_lake", "process_silver")


@dataclass
class ChaosOptions:
    duration_s: float = 900.0  # of faults and load, after the jobs' first batches
    api_rate: float = 1000.0  # acknowledged trades/s through the API
    standin_rate: float = 1000.0  # trades/s from the producer's exchange stand-in
    kills_per_job: int = 20
    kafka_outage_s: float = 20.0
    pg_stop_s: float = 60.0
    pg_freeze_s: float = 60.0
    seed: int = 7
    keep: bool = False  # keep the private state folder (logs, lake) for a post-mortem

    @classmethod
    def short(cls) -> ChaosOptions:
        """What `make test` runs: every kind of fault, a few minutes, a modest rate."""
        return cls(
            duration_s=150,
            api_rate=150,
            standin_rate=100,
            kills_per_job=2,
            kafka_outage_s=8,
            pg_stop_s=15,
            pg_freeze_s=15,
        )


@dataclass
class Fault:
    at_s: float
    kind: str  # kill | kafka | pg_stop | pg_freeze
    target: str = ""


@dataclass
class ChaosReport:
    options: dict[str, Any]
    faults: list[dict[str, Any]] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=dict)
    api_acknowledged: int = 0
    api_retries: int = 0
    elapsed_s: float = 0.0
    reconciliation: dict[str, Any] = field(default_factory=dict)


def fault_schedule(options: ChaosOptions) -> list[Fault]:
    """Kills at uniformly random moments; the three infrastructure outages spread over the run in random
    order, so they neither overlap each other nor all fall at the start (pure: seeded)."""
    rng = random.Random(options.seed)  # a fault schedule, not security
    faults = [
        Fault(rng.uniform(0, options.duration_s), "kill", job)
        for job in STREAM_JOBS
        for _ in range(options.kills_per_job)
    ]
    outages = [
        kind
        for kind, length in (
            ("kafka", options.kafka_outage_s),
            ("pg_stop", options.pg_stop_s),
            ("pg_freeze", options.pg_freeze_s),
        )
        if length > 0
    ]
    rng.shuffle(outages)
    for slot, kind in enumerate(outages, start=1):
        faults.append(Fault(options.duration_s * slot / (len(outages) + 1), kind))
    return sorted(faults, key=lambda fault: fault.at_s)


class ChaosPlatform:
    """The private platform under test and the faults it can suffer."""

    def __init__(self, home: Path, options: ChaosOptions) -> None:
        self.home = home
        self.options = options
        self.api_key = secrets.token_urlsafe(24)
        self.api_port = processes.free_port()
        self.supervisor: Supervisor | None = None
        self.env: dict[str, str] = {}

    # ---- set-up ---------------------------------------------------------------------------------
    def infra_up(self) -> None:
        from lakehouse.local.infra import LocalInfra

        LocalInfra().up(partitions=2)

    def start(self) -> None:
        self.infra_up()
        self.env = self._child_env()
        self.supervisor = Supervisor(self.env, REPO_ROOT, max_restarts=10_000)
        for spec in self._specs():
            self.supervisor.start(spec)
        if not wait_for_port(self.api_port, 60):
            raise RuntimeError(f"the API did not listen on {self.api_port}; see {self.home / 'logs'}")

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
        for line in (self.home / "env").read_text().splitlines():
            if line.startswith("export "):
                key, _, value = line.removeprefix("export ").partition("=")
                env[key] = value.strip("'")
        digest = hashlib.sha256(self.api_key.encode()).hexdigest()
        env.update(
            {
                "LAKEHOUSE_HOME": str(self.home),
                "LAKEHOUSE_JARS_DIR": os.environ["LAKEHOUSE_JARS_DIR"],
                "LAKEHOUSE_API_KEYS": f"{API_CLIENT}:{digest}",
                "LAKEHOUSE_SILVER_SCORER": "",  # no champion here: predictions stay null, as the ledger expects
                "LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS": "2",
                # Binance "unreachable" on a closed local port: the producer takes the stand-in path.
                "LAKEHOUSE_BINANCE_WS_URL": f"ws://127.0.0.1:{processes.free_port()}",
                "LAKEHOUSE_BINANCE_REST_URL": f"http://127.0.0.1:{processes.free_port()}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _specs(self) -> list[ServiceSpec]:
        python, logs = sys.executable, self.home / "logs"
        standin = ["--source", "live", "--fallback", "standin", "--standin-rate", str(self.options.standin_rate)]
        api = ["--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1"]
        return [
            ServiceSpec("ingestion_api", [python, "ingestion_api.py", *api], logs / "ingestion_api.log"),
            ServiceSpec("producer", [python, "producer.py", *standin], logs / "producer.log"),
            ServiceSpec("consumer_lake", [python, "consumer_lake.py"], logs / "consumer_lake.log"),
            ServiceSpec("process_silver", [python, "process_silver.py"], logs / "process_silver.log"),
        ]

    def service(self, name: str) -> Managed:
        assert self.supervisor is not None
        return self.supervisor.services[name]

    def keep_alive(self) -> None:
        """Restart whatever exited (a killed job, or one that failed while Kafka or PostgreSQL was away)."""
        assert self.supervisor is not None
        self.supervisor.check()

    def wait_for_first_batches(self, timeout_s: float = 600) -> None:
        lake = Path(self.env["LAKEHOUSE_LAKE_URI"].removeprefix("file://"))

        def written() -> bool:
            self.keep_alive()
            return all((lake / layer / "trades" / "_delta_log").is_dir() for layer in ("bronze", "silver"))

        processes.wait_until(written, timeout_s, "the first bronze and silver commits")

    # ---- faults ---------------------------------------------------------------------------------
    def kill_job(self, name: str) -> None:
        managed = self.service(name)
        if managed.running and managed.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(managed.process.pid, signal.SIGKILL)  # driver and JVM: no shutdown hook runs
            managed.process.wait()

    def kafka_outage(self, seconds: float, while_waiting: Callable[[], None]) -> None:
        from lakehouse.local.infra import LocalInfra

        pid = LocalInfra().kafka.pid_file.running_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        _wait(seconds, while_waiting)
        self.infra_up()

    def postgres_outage(self, seconds: float, while_waiting: Callable[[], None]) -> None:
        from lakehouse.local.infra import LocalInfra

        LocalInfra().postgres.stop()
        _wait(seconds, while_waiting)
        self.infra_up()

    def postgres_freeze(self, seconds: float, while_waiting: Callable[[], None]) -> None:
        from lakehouse.local.infra import LocalInfra

        postmaster = LocalInfra().postgres.pid_file.running_pid()
        if postmaster is None:
            return
        frozen = [postmaster, *_children(postmaster)]
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        try:
            _wait(seconds, while_waiting)
        finally:
            for pid in frozen:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    # ---- the end --------------------------------------------------------------------------------
    def stop_service(self, name: str, timeout_s: float = 90) -> None:
        managed = self.service(name)
        managed.spec.restart = False
        if managed.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(managed.process.pid, signal.SIGTERM)
        try:
            managed.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0fs; killing it", name, timeout_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(managed.process.pid, signal.SIGKILL)
        managed.process.wait()

    def drain(self) -> None:
        """Process what Kafka holds now, the way an operator catches up: each job with --once."""
        for script in ("consumer_lake.py", "process_silver.py"):
            log_path = self.home / "logs" / f"drain-{script}.log"
            with open(log_path, "wb") as out:
                code = subprocess.run(
                    [sys.executable, script, "--once"],
                    cwd=REPO_ROOT,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=900,
                    check=False,
                ).returncode
            if code != 0:
                raise RuntimeError(f"{script} --once exited {code}; see {log_path}")

    def shutdown(self) -> None:
        from lakehouse.local.infra import LocalInfra

        if self.supervisor is not None:
            self.supervisor.stop_all()
        postmaster = LocalInfra().postgres.pid_file.running_pid()
        if postmaster is not None:  # never leave a frozen server behind (postgres_freeze thaws it too)
            for pid in (postmaster, *_children(postmaster)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        LocalInfra().down()


def _wait(seconds: float, while_waiting: Callable[[], None]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        while_waiting()
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def _children(pid: int) -> list[int]:
    """Direct children of pid (PostgreSQL's backends and helpers), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


class AcknowledgedLoad:
    """The API load in a background thread: CompanyFeed batches, every 202-acknowledged trade in a ledger."""

    def __init__(self, api_url: str, api_key: str, rate_per_s: float, seed: int) -> None:
        from lakehouse.ingest.company import CompanyFeed, FeedReport

        self.feed = CompanyFeed(seed=seed, run_id=f"chaos{uuid.uuid4().hex[:6]}")
        self.report = FeedReport(acknowledged=[])
        self.api_url, self.api_key, self.rate = api_url, api_key, rate_per_s
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="chaos-load", daemon=True)

    def _run(self) -> None:
        from lakehouse.ingest.company import post_feed

        asyncio.set_event_loop(self._loop)
        self._stop = asyncio.Event()
        self._loop.run_until_complete(
            post_feed(
                self.feed,
                self.api_url,
                self.api_key,
                rate_per_s=self.rate,
                batch_size=50,
                duration_s=None,
                stop=self._stop,
                report=self.report,
            )
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 300) -> None:
        while self._stop is None:
            time.sleep(0.05)
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise RuntimeError("the API load did not finish its last batch")

    def acknowledged(self) -> list[Identity]:
        return [(f"api:{API_CLIENT}", symbol, trade_id) for symbol, trade_id in self.report.acknowledged or []]


def read_layers(env: dict[str, str]) -> Layers:
    """Kafka's record count, bronze, silver, quarantine and the PostgreSQL mirror, read without Spark."""
    import psycopg
    from deltalake import DeltaTable

    from lakehouse.dashboard.health import topic_end_offsets

    # A private topic from which nothing is ever deleted: its end offsets count every record.
    end_offsets = topic_end_offsets(
        env["LAKEHOUSE_KAFKA_BOOTSTRAP"], env.get("LAKEHOUSE_KAFKA_TOPIC", "raw-trades"), 30
    )
    kafka_records = sum(end_offsets.values())

    lake = env["LAKEHOUSE_LAKE_URI"].removeprefix("file://")

    def table(layer: str, name: str, columns: list[str]) -> list[dict]:
        return DeltaTable(f"{lake}/{layer}/{name}").to_pyarrow_table(columns=columns).to_pylist()

    bronze_rows = table("bronze", "trades", ["partition", "offset", "value"])
    bronze = [BronzeRecord(r["partition"], r["offset"], r["value"]) for r in bronze_rows]
    columns = [
        "source",
        "symbol",
        "trade_id",
        "price",
        "quantity",
        "side",
        "trade_time",
        "ingest_time",
        "schema_version",
        "kafka_partition",
        "kafka_offset",
    ]
    silver = [_comparable(row) for row in table("silver", "trades", columns)]
    try:
        quarantine = [
            (r["kafka_partition"], r["kafka_offset"])
            for r in table("silver", "trades_quarantine", ["kafka_partition", "kafka_offset"])
        ]
    except Exception as error:  # no bad record ever arrived: the table was never created
        if "no files" not in str(error).lower() and "not a delta table" not in str(error).lower():
            raise
        quarantine = []
    with psycopg.connect(env["LAKEHOUSE_PG_DSN"], connect_timeout=10) as conn:
        cursor = conn.execute(f"SELECT {', '.join(columns)} FROM silver.trades")
        names = [d.name for d in cursor.description or []]
        mirror = [_comparable(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]
    return Layers(kafka_records, bronze, silver, quarantine, mirror)


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    """Delta and PostgreSQL rows in one shape: times as epoch milliseconds, decimals as Decimal."""
    out = dict(row)
    for column in ("trade_time", "ingest_time"):
        value = out.pop(column)
        out[f"{column}_ms"] = round(value.timestamp() * 1000) if value is not None else None
    return out


@contextlib.contextmanager
def private_home(keep: bool) -> Iterator[Path]:
    """A state folder of its own, so the faults never touch the checkout's local infra."""
    home = state_dir() / "chaos" / f"run-{uuid.uuid4().hex[:8]}"
    home.mkdir(parents=True)
    saved = {k: v for k, v in os.environ.items() if k.startswith("LAKEHOUSE_")}
    os.environ.setdefault("LAKEHOUSE_JARS_DIR", str(jars_dir()))
    jars = os.environ["LAKEHOUSE_JARS_DIR"]
    for key in saved:
        os.environ.pop(key)
    os.environ.update({"LAKEHOUSE_HOME": str(home), "LAKEHOUSE_JARS_DIR": jars})
    try:
        yield home
    finally:
        for key in [k for k in os.environ if k.startswith("LAKEHOUSE_")]:
            os.environ.pop(key)
        os.environ.update(saved)
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def run_chaos(options: ChaosOptions) -> ChaosReport:
    report = ChaosReport(options=asdict(options))
    started = time.monotonic()
    with private_home(options.keep) as home:
        platform = ChaosPlatform(home, options)
        try:
            platform.start()
            load = AcknowledgedLoad(
                f"http://127.0.0.1:{platform.api_port}", platform.api_key, options.api_rate, options.seed
            )
            load.start()
            platform.wait_for_first_batches()
            log.info(
                "chaos: both streams committed; %d faults over %.0fs", len(fault_schedule(options)), options.duration_s
            )
            _inject(platform, fault_schedule(options), report, options)
            log.info("chaos: faults done; stopping the load, the producer and the API")
            load.stop()
            for name in ("producer", "ingestion_api", *STREAM_JOBS):
                platform.stop_service(name)
            report.restarts = {
                name: m.restarts for name, m in (platform.supervisor.services.items() if platform.supervisor else [])
            }
            report.api_acknowledged = len(load.report.acknowledged or [])
            report.api_retries = load.report.retries
            log.info("chaos: draining Kafka with --once")
            platform.drain()
            result: Reconciliation = reconcile(read_layers(platform.env), load.acknowledged())
            report.reconciliation = result.as_dict()
        finally:
            platform.shutdown()
            if options.keep:
                log.info("chaos: state kept in %s", home)
    report.elapsed_s = round(time.monotonic() - started, 1)
    return report


def _inject(platform: ChaosPlatform, faults: list[Fault], report: ChaosReport, options: ChaosOptions) -> None:
    clock = time.monotonic()
    for fault in faults:
        _wait(max(0.0, clock + fault.at_s - time.monotonic()), platform.keep_alive)
        at = round(time.monotonic() - clock, 1)
        log.info("chaos: t=%.0fs %s %s", at, fault.kind, fault.target)
        if fault.kind == "kill":
            platform.kill_job(fault.target)
        elif fault.kind == "kafka":
            platform.kafka_outage(options.kafka_outage_s, platform.keep_alive)
        elif fault.kind == "pg_stop":
            platform.postgres_outage(options.pg_stop_s, platform.keep_alive)
        elif fault.kind == "pg_freeze":
            platform.postgres_freeze(options.pg_freeze_s, platform.keep_alive)
        report.faults.append({"at_s": at, "kind": fault.kind, "target": fault.target})
        platform.keep_alive()
    _wait(max(0.0, clock + options.duration_s - time.monotonic()), platform.keep_alive)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the few-minute version (make test)")
    parser.add_argument("--duration-s", type=float)
    parser.add_argument("--api-rate", type=float)
    parser.add_argument("--standin-rate", type=float)
    parser.add_argument("--kills-per-job", type=int)
    parser.add_argument("--kafka-outage-s", type=float)
    parser.add_argument("--pg-stop-s", type=float)
    parser.add_argument("--pg-freeze-s", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--keep", action="store_true", help="keep the private state folder (logs, lake)")
    parser.add_argument("--output", type=Path, help="write the figures here instead of bench/results/ (tests)")
    args = parser.parse_args(argv or [])
    options = ChaosOptions.short() if args.short else ChaosOptions()
    for name in (
        "duration_s",
        "api_rate",
        "standin_rate",
        "kills_per_job",
        "kafka_outage_s",
        "pg_stop_s",
        "pg_freeze_s",
        "seed",
    ):
        if getattr(args, name) is not None:
            setattr(options, name, getattr(args, name))
    options.keep = args.keep
    report = run_chaos(options)
    recon = report.reconciliation
    figures = {
        "faults_injected": len(report.faults),
        "kills": sum(1 for f in report.faults if f["kind"] == "kill"),
        "restarts": report.restarts,
        "kafka_records": recon["kafka_records"],
        "bronze_rows": recon["bronze_rows"],
        "silver_rows": recon["silver_rows"],
        "mirror_rows": recon["mirror_rows"],
        "acknowledged": recon["acknowledged"],
        "lost": recon["lost"],
        "doubled": recon["doubled"],
        "exact": recon["exact"],
        "elapsed_s": report.elapsed_s,
        "report": asdict(report),
    }
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    else:
        write_result(
            "chaos_short" if args.short else "chaos",
            figures,
            {
                "lost": {"op": "<=", "value": 0, "unit": "rows"},
                "doubled": {"op": "<=", "value": 0, "unit": "rows"},
            },
        )
    log.info("chaos: %s", json.dumps({k: v for k, v in figures.items() if k != "report"}, default=str))
    return figures


if __name__ == "__main__":
    from lakehouse.logging_setup import configure_logging

    configure_logging()
    sys.exit(0 if main(sys.argv[1:])["exact"] else 1)
