"""Crashes and outages: kill -9 of either job mid-batch, and PostgreSQL down, then a restart converges."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lakehouse.local.postgres_server import (
    WRITER_ROLE,
    LocalPostgres,
    PgPasswords,
    bootstrap_database,
    dsn,
    install_server_packages,
    server_healthy,
)
from lakehouse.local.processes import free_port, wait_until
from lakehouse.paths import REPO_ROOT, state_dir
from lakehouse.schema.trade import now_ms
from lakehouse.settings import Settings
from lakehouse.stream.bronze import run_bronze
from lakehouse.stream.kafka_source import read_topic
from lakehouse.stream.postgres_mirror import MirrorError, PostgresMirror
from lakehouse.stream.runner import StreamFailedError, run_stream
from lakehouse.stream.silver import SilverWriter, run_silver
from tests.integration.stream.conftest import mirror_key, produce, read_state, silver_key
from tests.utils.trades import make_trade

T0 = now_ms() - 600_000


def trades(start: int, count: int) -> list[dict]:
    return [
        json.loads(make_trade(n, symbol="ETHUSDT", trade_time=T0 + n, ingest_time=T0 + n + 80).to_json_bytes())
        for n in range(start, start + count)
    ]


def assert_converged(spark, settings: Settings, sent: int, distinct_valid: int, malformed: int) -> None:
    state = read_state(spark, settings)
    assert len(state.bronze) == sent
    assert max(Counter((r.partition, r.offset) for r in state.bronze).values()) == 1
    identities = Counter((r.source, r.symbol, r.trade_id) for r in state.silver)
    assert len(state.silver) == distinct_valid and max(identities.values()) == 1
    assert sorted(map(mirror_key, state.mirror)) == sorted(map(silver_key, state.silver))
    coordinates = Counter((r.kafka_partition, r.kafka_offset) for r in state.quarantine)
    assert len(state.quarantine) == malformed and max(coordinates.values()) == 1


MAX_OFFSETS_PER_TRIGGER = 30


def spawn_job(script: str, settings: Settings, topic: str, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "LAKEHOUSE_LAKE_URI": settings.lake_uri,
        "LAKEHOUSE_PG_SILVER_TABLE": settings.pg_silver_table,
        "LAKEHOUSE_PG_PRICES_VIEW": settings.pg_prices_view,
        "LAKEHOUSE_STREAM_FAULT_PAUSE_S": "120",  # every batch stops at its crash-sensitive point
        "LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    env.pop("LAKEHOUSE_CHECKPOINT_URI", None)
    limit = str(MAX_OFFSETS_PER_TRIGGER)
    args = [sys.executable, script, "--once", "--topic", topic, "--max-offsets-per-trigger", limit]
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(
            args, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )


def kill_when_logged(process: subprocess.Popen, log_path: Path, marker: str) -> None:
    def reached() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"job exited early ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        return marker in log_path.read_text(errors="replace")

    wait_until(reached, 300, marker)
    os.killpg(process.pid, signal.SIGKILL)  # the Python driver and its JVM: a hard crash, no shutdown hooks
    process.wait(30)


def test_kill_9_in_the_middle_of_a_batch_then_restart(spark, stream_settings, topic: str, tmp_path: Path) -> None:
    settings = stream_settings
    batch = trades(0, 70) + trades(0, 10) + ["{broken", '{"symbol": 1}']  # 10 re-sends, 2 malformed
    sent = produce(settings.kafka_bootstrap, topic, batch)

    bronze_log, silver_log = tmp_path / "bronze.log", tmp_path / "silver.log"
    bronze = spawn_job("consumer_lake.py", settings, topic, bronze_log)
    silver = spawn_job("process_silver.py", settings, topic, silver_log)
    kill_when_logged(bronze, bronze_log, "fault drill: batch 0 committed to Delta")
    kill_when_logged(silver, silver_log, "fault drill: batch 0 mirrored")

    # The crash left the stores apart: bronze holds a batch its checkpoint never committed, and
    # PostgreSQL holds a batch that Delta silver does not.
    crashed = read_state(spark, settings)
    # Spark prorates the trigger's limit over the partitions and rounds a share below 1 up (so that no
    # partition starves), so one batch may exceed the limit by one record per partition but the first.
    assert 0 < len(crashed.bronze) <= MAX_OFFSETS_PER_TRIGGER + settings.kafka_partitions - 1 < sent
    assert not list(Path(settings.checkpoints.removeprefix("file://"), "bronze_trades", "commits").glob("0"))
    assert len(crashed.mirror) > 0 and crashed.silver == []

    run_bronze(spark, settings, once=True, topic=topic)
    run_silver(spark, settings, once=True, topic=topic)
    assert_converged(spark, settings, sent=sent, distinct_valid=70, malformed=2)


def test_kill_9_between_mirror_and_commit_after_checkpoint_resets_doubles_nothing(
    spark, stream_settings, topic: str, tmp_path: Path
) -> None:
    """After a reset, the mirror holds rows of an earlier query: the new query's crashed batch must neither
    take them for its own on replay (appending them to Delta again) nor lose those Delta never got."""
    settings = stream_settings
    sent = produce(settings.kafka_bootstrap, topic, [*trades(0, 60), "{broken"])
    checkpoint = Path(settings.checkpoints.removeprefix("file://")) / "silver_trades"

    def crash_in_first_batch(name: str) -> None:
        job = spawn_job("process_silver.py", settings, topic, tmp_path / f"{name}.log")
        kill_when_logged(job, tmp_path / f"{name}.log", "fault drill: batch 0 mirrored")

    # 1. Query A mirrors its first batch and dies before the Delta commit; the checkpoint is reset.
    crash_in_first_batch("query-a")
    assert read_state(spark, settings).silver == [] and len(read_state(spark, settings).mirror) > 0
    shutil.rmtree(checkpoint)
    # 2. Query B finds those rows mirrored by another query and absent from Delta: it adopts them, dies
    #    before its Delta commit, and its restart replays the batch to the end.
    crash_in_first_batch("query-b")
    run_silver(spark, settings, once=True, topic=topic)
    assert len(read_state(spark, settings).silver) == 60
    # 3. Reset again. Query C finds every row mirrored by query B and held in Delta; it dies between
    #    mirror and commit, and its replay must still see them as query B's, not as its own new rows.
    shutil.rmtree(checkpoint)
    crash_in_first_batch("query-c")
    sent += produce(settings.kafka_bootstrap, topic, trades(60, 20))
    run_silver(spark, settings, once=True, topic=topic)
    run_bronze(spark, settings, once=True, topic=topic)
    assert_converged(spark, settings, sent=sent, distinct_valid=80, malformed=1)


@dataclass
class PrivatePostgres:
    server: LocalPostgres
    bin_dir: Path
    port: int
    passwords: PgPasswords

    def start(self) -> None:
        self.server.start(self.bin_dir, self.port)
        wait_until(lambda: server_healthy(self.port, self.passwords.admin), 60, "private PostgreSQL")

    @property
    def writer_dsn(self) -> str:
        return dsn(WRITER_ROLE, self.passwords.writer, self.port)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A throw-away PostgreSQL server we may stop (never the shared one), under .lakehouse/test-homes."""
    home = state_dir() / "test-homes" / uuid.uuid4().hex[:8]
    passwords = PgPasswords(*(secrets.token_urlsafe(24) for _ in range(3)))
    bin_dir = install_server_packages()
    server = LocalPostgres(home / "postgres")
    server.init_cluster(bin_dir, passwords.admin)
    private = PrivatePostgres(server, bin_dir, free_port(), passwords)
    private.start()
    bootstrap_database(private.port, passwords)
    try:
        yield private
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def test_postgres_down_fails_the_batch_and_a_restart_retries_it(
    spark, stream_settings, topic: str, private_postgres: PrivatePostgres
) -> None:
    settings = stream_settings.model_copy(update={"pg_dsn": private_postgres.writer_dsn})
    sent = produce(settings.kafka_bootstrap, topic, [*trades(100, 20), "nope"])
    run_silver(spark, settings, once=True, topic=topic)
    assert len(read_state(spark, settings).silver) == 20

    # PostgreSQL goes away between batches; new trades arrive.
    writer = SilverWriter(settings, PostgresMirror(settings.require_pg_dsn(), settings.pg_silver_table))
    private_postgres.server.stop()
    sent += produce(settings.kafka_bootstrap, topic, trades(120, 15))
    with pytest.raises(StreamFailedError, match="PostgreSQL"):
        run_stream(
            read_topic(spark, settings, topic, settings.silver_max_offsets_per_trigger),
            writer,
            name="silver-trades",
            checkpoint=f"{settings.checkpoints}/silver_trades",
            once=True,
            trigger_s=1,
        )
    with pytest.raises(MirrorError, match="cannot connect"):
        run_silver(spark, settings, once=True, topic=topic)  # a restart while it is still down fails fast
    silver_uri = settings.table_uri("silver", "trades")
    assert spark.read.format("delta").load(silver_uri).count() == 20  # nothing half-written

    private_postgres.start()
    run_silver(spark, settings, once=True, topic=topic)
    state = read_state(spark, settings)
    assert len(state.silver) == 35 and len({r.trade_id for r in state.silver}) == 35
    assert sorted(map(mirror_key, state.mirror)) == sorted(map(silver_key, state.silver))
    assert len(state.quarantine) == 1
