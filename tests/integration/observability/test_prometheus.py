"""Debian's Prometheus scrapes the running ingestion API with the compose job's settings, and every
Grafana panel's query reads only metrics the services really export."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from lakehouse.ingest.exchange_feed_metrics import ProducerMetrics
from lakehouse.kafka.admin import ensure_topic
from lakehouse.local.processes import free_port, serving
from lakehouse.observability.streaming import StreamMetrics
from lakehouse.observability.trainer import TrainerMetrics
from lakehouse.paths import REPO_ROOT
from lakehouse.settings import Settings
from tests.integration.ingest.conftest import API_KEY, RunningApi, api_process
from tests.integration.observability.metric_names import (
    cadvisor_names,
    exposition_names,
    promql_metrics,
    registry_names,
)
from tests.utils.trades import make_trade

PROMETHEUS_CONFIG = REPO_ROOT / "ops" / "prometheus" / "prometheus.yml"
DASHBOARDS = REPO_ROOT / "ops" / "grafana" / "dashboards"
TRADES = 25


@pytest.fixture(scope="module")
def running_api(infra: Settings) -> Iterator[RunningApi]:
    topic = f"test-prom-{uuid.uuid4().hex[:10]}"
    ensure_topic(infra.kafka_bootstrap, topic, partitions=1)
    with api_process(infra, topic) as api:
        body = [make_trade(i).model_dump(mode="json", include=BODY_FIELDS) for i in range(TRADES)]
        response = httpx.post(f"{api.url}/v1/trades", json=body, headers={"X-API-Key": API_KEY}, timeout=30)
        assert response.status_code in (200, 202), response.text
        yield api


BODY_FIELDS = {"symbol", "trade_id", "price", "quantity", "side", "trade_time"}


@pytest.fixture(scope="module")
def prometheus(running_api: RunningApi, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("the `prometheus` Debian package is missing: scripts/bootstrap.sh installs it")
    root = tmp_path_factory.mktemp("prometheus")
    # The compose job for the API, pointed at the test's API and scraped every second.
    jobs = yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]
    job = next(j for j in jobs if j["job_name"] == "ingestion-api")
    job = {**job, "scrape_interval": "1s", "static_configs": [{"targets": [running_api.url.removeprefix("http://")]}]}
    (root / "prometheus.yml").write_text(yaml.safe_dump({"global": {"scrape_interval": "1s"}, "scrape_configs": [job]}))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        binary, f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]  # fmt: skip
    with serving(command, f"{url}/-/ready", "prometheus", root / "prometheus.log"):
        yield url


def instant(prometheus: str, expr: str) -> list[dict]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def test_prometheus_scrapes_the_running_api(prometheus: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not instant(prometheus, "lakehouse_api_trades_accepted_total"):
        time.sleep(0.5)
    accepted = instant(prometheus, "lakehouse_api_trades_accepted_total")
    assert [float(s["value"][1]) for s in accepted] == [TRADES]
    assert accepted[0]["metric"]["job"] == "ingestion-api"
    assert [s["value"][1] for s in instant(prometheus, 'up{job="ingestion-api"}')] == ["1"]
    requests = instant(prometheus, 'lakehouse_api_requests_total{status=~"2.."}')
    assert sum(float(s["value"][1]) for s in requests) == 1
    names = httpx.get(f"{prometheus}/api/v1/label/__name__/values", timeout=5).json()["data"]
    assert "lakehouse_api_kafka_ack_seconds_bucket" in names


def _cadvisor_module(compose_version: str) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("cAdvisor's metric names come from its Go module: needs the Go toolchain")
    result = subprocess.run(
        [go, "mod", "download", "-json", f"github.com/google/cadvisor@{compose_version}"],
        capture_output=True, text=True, timeout=600, cwd=REPO_ROOT,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.skip(f"cannot download cAdvisor {compose_version} from the Go module proxy: {result.stderr[-300:]}")
    return Path(json.loads(result.stdout)["Dir"])


def exported_metric_names(api_url: str) -> set[str]:
    """Everything the platform's services export, collected from their real endpoints and registries."""
    names = exposition_names(httpx.get(f"{api_url}/metrics", timeout=5).text)
    names |= registry_names(ProducerMetrics().registry)
    names |= registry_names(StreamMetrics().registry)
    names |= registry_names(TrainerMetrics().registry)
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yaml").read_text())
    version = compose["services"]["cadvisor"]["image"].rsplit(":", 1)[1]
    names |= cadvisor_names(_cadvisor_module(version))
    return names | {"up", "scrape_duration_seconds"}  # Prometheus's own series per target


def _panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return [p for p in panels if p.get("type") != "row"]


def test_every_grafana_query_reads_exported_metrics(running_api: RunningApi) -> None:
    exported = exported_metric_names(running_api.url)
    assert {"lakehouse_api_requests_total", "container_cpu_usage_seconds_total", "machine_memory_bytes"} <= exported
    titles = set()
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        titles.add(dashboard["title"])
        panels = _panels(dashboard)
        assert panels, f"{path.name} has no panels"
        for panel in panels:
            assert panel["datasource"]["uid"] == "prometheus", f"{path.name}: {panel['title']}"
            assert panel["targets"], f"{path.name}: {panel['title']} has no query"
            for target in panel["targets"]:
                used = promql_metrics(target["expr"])
                assert used, f"{path.name}: {panel['title']}: no metric in {target['expr']!r}"
                unknown = used - exported
                assert not unknown, f"{path.name}: {panel['title']} reads {unknown}, which no service exports"
    assert {"Pipeline health", "Hosts and containers"} <= titles


def test_promql_parser_finds_metrics_not_functions_or_labels() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, query) (rate(a_bucket{job="x",le!="1e3"}[5m]))) / on(job) b_total'
    assert promql_metrics(expr) == {"a_bucket", "b_total"}
    assert promql_metrics("time() - last_ts_seconds offset 5m") == {"last_ts_seconds"}
