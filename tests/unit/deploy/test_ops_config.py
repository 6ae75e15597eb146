"""The files compose mounts: the healthcheck probe, Prometheus targets, Grafana provisioning, scripts."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from lakehouse.local.processes import free_port
from tests.utils.compose_model import REPO, command_words

HEALTHCHECK = REPO / "ops" / "docker" / "healthcheck.py"


# What a Spark master's /json/ answers (trimmed to the fields the probe reads).
MASTER_JSON = {
    "aliveworkers": 1,
    "activeapps": [
        {"name": "bronze-trades", "state": "RUNNING"},
        {"name": "silver-trades", "state": "WAITING"},
    ],
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path in ("/ok", "/json/") else 503
        self.send_response(status)
        self.end_headers()
        self.wfile.write(json.dumps(MASTER_JSON).encode() if self.path == "/json/" else b"body")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _probe(*targets: str) -> subprocess.CompletedProcess[str]:
    # Run as the containers do: a separate interpreter, the script file, exit code only.
    return subprocess.run([sys.executable, str(HEALTHCHECK), *targets], capture_output=True, text=True, timeout=30)


def test_healthcheck_passes_on_2xx_and_fails_otherwise(http_server: str) -> None:
    assert _probe(f"{http_server}/ok").returncode == 0
    failed = _probe(f"{http_server}/ok", f"{http_server}/down")
    assert failed.returncode == 1 and "HTTP 503" in failed.stderr
    closed = _probe(f"http://127.0.0.1:{free_port()}/health")
    assert closed.returncode == 1 and "refused" in closed.stderr.lower()


def test_healthcheck_tcp_mode_and_bad_usage(http_server: str) -> None:
    port = http_server.rsplit(":", 1)[1]
    assert _probe(f"tcp://127.0.0.1:{port}").returncode == 0
    assert _probe(f"tcp://127.0.0.1:{free_port()}").returncode == 1
    assert _probe("ftp://example").returncode == 1
    assert _probe().returncode == 2


def test_healthcheck_spark_app_mode_needs_a_running_application(http_server: str) -> None:
    master = http_server.removeprefix("http://")
    assert _probe(f"spark-app://{master}/bronze-trades").returncode == 0
    waiting = _probe(f"spark-app://{master}/silver-trades")  # registered but without executors
    assert waiting.returncode == 1 and "no running Spark application 'silver-trades'" in waiting.stderr
    assert "bronze-trades" in _probe(f"spark-app://{master}/gold-trades").stderr  # names what does run
    assert _probe(f"spark-app://127.0.0.1:{free_port()}/bronze-trades").returncode == 1
    assert _probe(f"spark-app://{master}/").returncode == 1


def test_streaming_jobs_are_checked_under_the_application_names_they_use(services) -> None:
    # lakehouse/stream/cli.py names the Spark application "<job>-trades"; the healthcheck must match.
    cli = (REPO / "lakehouse" / "stream" / "cli.py").read_text()
    assert 'app_name=f"{job}-trades"' in cli
    for job in ("bronze", "silver"):
        test = services[f"spark-{job}"]["healthcheck"]["test"]
        assert test[-1] == f"spark-app://spark-master:8080/{job}-trades"


def _served_ports(service: dict) -> set[int]:
    """Container ports a service listens on, as far as its command, settings and healthcheck say."""
    ports = {int(c) for c in (str(p).split(":")[-1] for p in service.get("ports", []))}
    env = service.get("environment", {})
    if "LAKEHOUSE_METRICS_PORT" in env:
        ports.add(int(env["LAKEHOUSE_METRICS_PORT"]))
    words = command_words(service.get("command"))
    if "--port" in words:
        ports.add(int(words[words.index("--port") + 1]))
    return ports


def test_prometheus_scrapes_only_compose_services_on_ports_they_serve(services) -> None:
    config = yaml.safe_load((REPO / "ops" / "prometheus" / "prometheus.yml").read_text())
    jobs = config["scrape_configs"]
    assert len({job["job_name"] for job in jobs}) == len(jobs)
    for job in jobs:
        for target in (t for static in job["static_configs"] for t in static["targets"]):
            host, _, port = target.rpartition(":")
            if host == "localhost":
                continue
            assert host in services, f"{job['job_name']}: {host} is not a compose service"
            served = _served_ports(services[host]) | {8080, 9000}  # cAdvisor and MinIO serve on image defaults
            assert int(port) in served, f"{job['job_name']}: {host} does not serve {port}"
    scraped = {t.split(":")[0] for job in jobs for s in job["static_configs"] for t in s["targets"]}
    assert {"ingestion-api", "producer", "spark-bronze", "spark-silver", "cadvisor"} <= scraped


def test_grafana_provisioning_points_at_the_mounted_paths(services) -> None:
    provisioning = REPO / "ops" / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"]
    assert [d["url"] for d in datasources] == ["http://prometheus:9090"]
    providers = yaml.safe_load((provisioning / "dashboards" / "lakehouse.yaml").read_text())["providers"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"]}
    for provider in providers:
        path = provider["options"]["path"]
        assert path in mounts and (REPO / mounts[path]).is_dir(), f"{path} is not mounted from the repository"
    assert mounts["/etc/grafana/provisioning"] == "./ops/grafana/provisioning"


@pytest.mark.parametrize(
    "script",
    ["ops/postgres/initdb/10-lakehouse.sh", "ops/kafka/create-topics.sh", "ops/airflow/init.sh", "scripts/make_env.sh"],
)
def test_shell_scripts_parse_and_are_executable(script: str) -> None:
    path = REPO / script
    assert path.stat().st_mode & 0o111, f"{script} is not executable"
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_minio_init_script_parses_in_posix_sh() -> None:
    # The minio/mc image has no bash: the script must be plain POSIX sh.
    result = subprocess.run(["sh", "-n", str(REPO / "ops" / "minio" / "init.sh")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_kafka_topic_script_rejects_a_bad_partition_count() -> None:
    env = {
        "KAFKA_BOOTSTRAP": "kafka:9092",
        "KAFKA_TOPIC": "raw-trades",
        "KAFKA_PARTITIONS": "three",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        ["bash", str(REPO / "ops" / "kafka" / "create-topics.sh")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2 and "positive integer" in result.stderr
