"""The DAGs import cleanly, carry tags/retries/schedules, run for real with dag.test(), and alert on failure."""

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import psycopg

from lakehouse.local.processes import free_port
from tests.integration.orchestration.conftest import last_json_line
from tests.utils.market import synthetic_trades
from tests.utils.silver_pg import load_silver, silver_rows

EXPECTED = {"dbt_gold": "*/5 * * * *", "retrain_model": "0 0 * * 0", "lake_maintenance": "0 0 * * *"}
# The long-period DAGs wait for their next tick on a fresh install (no run for the tick just past).
WAIT_FOR_NEXT_TICK = {"retrain_model", "lake_maintenance"}

INTEGRITY = """
import json
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.decoders import decode_timetable
from airflow.serialization.encoders import encode_timetable
from airflow.timetables.base import TimeRestriction
from airflow.utils import timezone
bag = DagBag(include_examples=False)
now = timezone.utcnow()

def first_run_in_s(dag):
    # The scheduler's view of the timetable, as it reads it from the serialized DAG.
    timetable = decode_timetable(encode_timetable(dag.timetable))
    restriction = TimeRestriction(earliest=dag.start_date, latest=None, catchup=dag.catchup)
    info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    return (info.run_after - now).total_seconds()

print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {
        dag_id: {
            "tags": sorted(dag.tags),
            "schedule": dag.timetable.expression,
            "first_run_in_s": first_run_in_s(dag),
            "catchup": dag.catchup,
            "retries": [t.retries for t in dag.tasks],
            "callbacks": [t.on_failure_callback is not None for t in dag.tasks],
        }
        for dag_id, dag in bag.dags.items()
    },
}))
"""

RUN_DAG = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(include_examples=False).get_dag(sys.argv[1] if len(sys.argv) > 1 else "{dag_id}")
run = dag.test()
states = {{ti.task_id: str(ti.state) for ti in run.get_task_instances()}}
print(json.dumps({{"state": str(run.state), "tasks": states}}))
"""


def test_dag_integrity(run_airflow_python) -> None:
    result = run_airflow_python(INTEGRITY)
    assert result.returncode == 0, result.stderr[-3000:]
    report = last_json_line(result.stdout)
    assert report["errors"] == {}
    assert set(report["dags"]) == set(EXPECTED)
    for dag_id, schedule in EXPECTED.items():
        dag = report["dags"][dag_id]
        assert dag["tags"], dag_id
        assert dag["schedule"] == schedule, dag
        if dag_id in WAIT_FOR_NEXT_TICK:
            assert dag["first_run_in_s"] > 0, dag  # a fresh `compose up` trains and compacts nothing at once
        else:
            assert dag["first_run_in_s"] <= 0, dag  # gold is built from the first minute
        assert dag["catchup"] is False
        assert all(retries >= 1 for retries in dag["retries"]), dag_id
        assert all(dag["callbacks"]), dag_id


def test_dbt_gold_dag_runs_against_the_local_stack(run_airflow_python, gold_db) -> None:
    load_silver(gold_db["dsn"], silver_rows(synthetic_trades(minutes=5), processed_at=datetime.now(UTC)))
    result = run_airflow_python(RUN_DAG.format(dag_id="dbt_gold"), LAKEHOUSE_PG_DSN=gold_db["dsn"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = last_json_line(result.stdout)
    assert report["state"] == "success", result.stdout[-4000:]
    assert set(report["tasks"]) == {"dbt_build", "source_freshness"}  # silver fresh: both succeed
    with psycopg.connect(gold_db["dsn"]) as conn:
        assert conn.execute("SELECT count(*) FROM gold.candles_1m").fetchone()[0] > 0


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_failing_task_posts_to_the_webhook(run_airflow_python) -> None:
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run_airflow_python(
            RUN_DAG.format(dag_id="dbt_gold"),
            # Nothing listens there: dbt cannot connect, the task fails, the callback fires.
            LAKEHOUSE_PG_DSN=f"postgresql://nobody:nothing@127.0.0.1:{free_port()}/market_db",
            LAKEHOUSE_ALERT_WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
            LAKEHOUSE_DAG_RETRIES="0",
        )
    finally:
        server.shutdown()
    report = last_json_line(result.stdout)
    assert report["state"] == "failed"
    assert len(_Receiver.received) == 1, result.stdout[-3000:]
    text = _Receiver.received[0]["text"]
    assert "dbt_gold.dbt_build" in text and "failed" in text


def test_retrain_model_dag_trains_and_registers(run_airflow_python, settings, spark, tmp_path) -> None:
    from tests.integration.ml.test_training import SILVER_SUBSET

    rows = [tuple(r.values()) for r in synthetic_trades(minutes=20, trades_per_s=3.0)]
    spark.createDataFrame(rows, SILVER_SUBSET).write.format("delta").save(settings.table_uri("silver", "trades"))
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_airflow_python(
        RUN_DAG.format(dag_id="retrain_model"),
        timeout=900,
        LAKEHOUSE_LAKE_URI=settings.lake_uri,
        LAKEHOUSE_MLFLOW_TRACKING_URI=tracking,
        LAKEHOUSE_MLFLOW_ARTIFACT_ROOT=(tmp_path / "artifacts").as_uri(),
        LAKEHOUSE_DAG_RETRIES="0",
    )
    report = last_json_line(result.stdout)
    assert report["state"] == "success", result.stdout[-4000:]

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    champion = client.get_model_version_by_alias("price_forecaster", "champion")
    assert champion.tags["promotion"] == "promoted"
