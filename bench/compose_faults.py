"""`docker kill` of Kafka, PostgreSQL, MinIO and each Spark container in turn while trades flow, then
an exact reconciliation after each.

Needs the compose run's stack, kept: `LAKEHOUSE_KEEP_COMPOSE=1 make test-compose`, then

    uv run python -m bench.compose_faults [--services kafka,postgres,...]

(a run of some services keeps the recorded runs of the others, each with its time).

Run on its own, not by `make bench` (it takes about 2 minutes a fault). For each service in turn:
- a company posts trades through the API without pause (batches of 50, about 200 trades/s), and
  repeats every batch the API refuses, as its 503 asks, so that each trade ends acknowledged;
- 5 s in, `docker kill SERVICE`; 15 s later `docker start SERVICE`. Docker never restarts a killed
  container (a kill counts as a manual stop), so that part is the operator's; everything else must
  recover by itself, through retries or its restart policy;
- the posting goes on for 20 s more, then the stack must settle: every Kafka record in bronze once,
  silver caught up, PostgreSQL equal to silver.
Checked after each: every acknowledged trade is in silver and PostgreSQL exactly once, and nothing
there was never sent. Measured: the time from the kill to settled, the API's refusals, and which
containers the restart policy brought back. Results: bench/results/compose_faults.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.common import RESULTS_DIR, write_result
from lakehouse.airgap.go_tools import DOCKER_COMPOSE, ensure_go_tool
from lakehouse.logging_setup import configure_logging
from lakehouse.paths import state_dir
from tests.compose.ledger import API, api_key, settled
from tests.compose.stack import ComposeStack

log = logging.getLogger("bench.compose_faults")
SERVICES = ("kafka", "postgres", "minio", "spark-worker", "spark-bronze", "spark-silver", "spark-master")
SYMBOL = "FAULTS"
BATCH = 50


class Company(threading.Thread):
    """Posts trades through the API until stopped, repeating refused batches; remembers what was acknowledged."""

    def __init__(self, key: str, prefix: str) -> None:
        super().__init__(daemon=True)
        self.key, self.prefix = key, prefix
        self.sent: set[str] = set()
        self.acknowledged: set[str] = set()
        self.refusals = 0
        self.stop = threading.Event()

    def _batch(self, first: int) -> list[dict[str, Any]]:
        now_ms = int(time.time() * 1000)
        return [
            {"symbol": SYMBOL, "trade_id": f"{self.prefix}-{first + i}", "price": "100.00", "quantity": "1",
             "side": "buy", "trade_time": now_ms}
            for i in range(BATCH)
        ]  # fmt: skip

    def _post(self, client: httpx.Client, batch: list[dict[str, Any]]) -> bool:
        self.sent.update(trade["trade_id"] for trade in batch)
        try:
            response = client.post(f"{API}/v1/trades", json=batch, headers={"X-API-Key": self.key})
        except httpx.HTTPError:
            self.refusals += 1
            return False
        if response.status_code == 202:
            self.acknowledged.update(trade["trade_id"] for trade in batch)
            return True
        self.refusals += 1
        return False

    def run(self) -> None:
        first = 0
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                batch = self._batch(first)
                while not self._post(client, batch):  # the sender's part of at-least-once
                    time.sleep(1)
                first += BATCH
                time.sleep(0.25)


def restart_counts(stack: ComposeStack) -> dict[str, int]:
    ids = stack.docker("ps", "-q", "--filter", "label=com.docker.compose.project=lakehouse").stdout.split()
    out = stack.docker("inspect", "--format", "{{.Name}} {{.RestartCount}}", *ids).stdout
    return {name.lstrip("/"): int(count) for name, count in (line.split() for line in out.splitlines())}


def fault(stack: ComposeStack, service: str) -> dict[str, Any]:
    container = stack.compose("ps", "-q", service).stdout.strip()
    name = stack.docker("inspect", "--format", "{{.Name}}", container).stdout.strip().lstrip("/")
    prefix = f"{service}-{uuid.uuid4().hex[:6]}"
    restarts_before = restart_counts(stack)
    company = Company(api_key(stack), prefix)
    company.start()
    time.sleep(5)
    killed_at = time.monotonic()
    stack.docker("kill", name)
    time.sleep(15)
    stack.docker("start", name)
    time.sleep(20)
    company.stop.set()
    company.join(timeout=600)
    settled(stack, timeout_s=900, symbol=SYMBOL, trade_ids=company.acknowledged)
    recovery_s = time.monotonic() - killed_at
    rows = stack.psql(f"SELECT trade_id FROM silver.trades WHERE symbol = '{SYMBOL}' AND trade_id LIKE '{prefix}-%'")
    mirrored = [row[0] for row in rows]
    restarted = {
        container: count - restarts_before.get(container, 0)
        for container, count in restart_counts(stack).items()
        if count > restarts_before.get(container, 0)
    }
    result = {
        "acknowledged": len(company.acknowledged),
        "refused_batches": company.refusals,
        "in_postgres": len(mirrored),
        "lost": len(company.acknowledged - set(mirrored)),
        "doubled": len(mirrored) - len(set(mirrored)),
        "never_sent": len(set(mirrored) - company.sent),
        "kill_to_settled_s": round(recovery_s),
        "restarted_by_policy": restarted,
    }
    log.info("%s: %s", service, result)
    return result


def main(argv: list[str] | None = None) -> None:
    configure_logging()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-file", type=Path, default=state_dir() / "compose-run" / "compose.env")
    parser.add_argument("--services", default=",".join(SERVICES))
    args = parser.parse_args(argv)
    stack = ComposeStack(binary=ensure_go_tool(DOCKER_COMPOSE), env_file=args.env_file)
    stack.compose("stop", "producer")  # exact counts need the API's trades alone
    chosen = args.services.split(",")
    # A run of some services keeps the recorded runs of the others (each run says when it was measured).
    runs: dict[str, Any] = {service: run for service, run in earlier_runs().items() if service not in chosen}
    for service in chosen:
        measured_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        try:
            runs[service] = {**fault(stack, service), "measured_at": measured_at}
        except AssertionError as error:  # not settled in time: recorded, and the next fault still runs
            log.error("%s: %s", service, error)
            runs[service] = {"error": str(error)[:2000], "measured_at": measured_at}
        record(runs, planned=list(SERVICES))  # after each fault, so a cut-short run keeps its figures


def earlier_runs() -> dict[str, Any]:
    path = RESULTS_DIR / "compose_faults.json"
    if not path.exists():
        return {}
    earlier = json.loads(path.read_text())
    return {
        service: {"measured_at": earlier["measured_at"], **run} for service, run in earlier["figures"]["runs"].items()
    }


def record(runs: dict[str, Any], planned: list[str]) -> None:
    figures: dict[str, Any] = {"runs": runs}
    figures["lost"] = sum(run.get("lost", 0) for run in runs.values())
    figures["doubled"] = sum(run.get("doubled", 0) for run in runs.values())
    figures["faults_not_settled"] = sorted(service for service, run in runs.items() if "error" in run)
    figures["faults_not_run"] = [service for service in planned if service not in runs]
    figures["faults_settled"] = len(runs) - len(figures["faults_not_settled"])
    write_result(
        "compose_faults",
        figures,
        {
            "lost": {"op": "<=", "value": 0, "unit": "trades"},
            "doubled": {"op": "<=", "value": 0, "unit": "trades"},
            "faults_settled": {"op": ">=", "value": len(planned), "unit": "faults"},
        },
    )


if __name__ == "__main__":
    main()
