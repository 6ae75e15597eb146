"""The compose stack's contract: services, names, commands, health, dependencies, volumes, security."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lakehouse.settings import Settings
from tests.utils.compose_model import command_words, is_one_shot, published_ports

# Service -> container name that earlier documentation of the platform uses (`docker exec ...`).
CONTAINER_NAMES = {
    "postgres": "postgres",
    "spark-silver": "spark-silver",
    "dbt": "dbt_transformer",
    "dashboard": "dashboard",
}
EXPECTED_COMMANDS = {
    "spark-bronze": ["python", "consumer_lake.py"],
    "spark-silver": ["python", "process_silver.py"],
    "ingestion-api": ["python", "ingestion_api.py", "--host", "0.0.0.0", "--port", "8000"],
    "producer": ["python", "producer.py"],
    "airflow-apiserver": ["airflow", "api-server", "--port", "8080"],
    "airflow-scheduler": ["airflow", "scheduler"],
    "airflow-dag-processor": ["airflow", "dag-processor"],
}
# Services built from our Dockerfiles, i.e. the platform's own code.
# Image -> (Dockerfile, dependency group of pyproject.toml it installs).
APP_IMAGES = {
    "lakehouse/ingest:local": ("Dockerfile", "ingest"),
    "lakehouse/dbt:local": ("Dockerfile", "dbt"),
    "lakehouse/mlflow:local": ("Dockerfile", "mlflow-server"),
    "lakehouse/dashboard:local": ("Dockerfile", "dashboard"),
    "lakehouse/spark:local": ("Dockerfile.spark", "spark"),
    "lakehouse/airflow:local": ("Dockerfile.spark", "airflow"),
}
# Every app container that runs platform code reads the shared settings.
SETTINGS_FREE_APPS = {"spark-master", "spark-worker", "mlflow"}
# Where each image keeps the data a named volume must hold.
DATA_PATHS = {
    "postgres": "/var/lib/postgresql/data",
    "kafka": "/var/lib/kafka/data",
    "minio": "/data",
    "prometheus": "/prometheus",
    "grafana": "/var/lib/grafana",
    "spark-master": "/home/lakehouse/.lakehouse",  # its recovery state (workers, applications)
}
INFRASTRUCTURE = {"cadvisor"}


def _app_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in services.items() if svc.get("image") in APP_IMAGES}


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def test_every_service_of_the_platform_is_there(services) -> None:
    expected = {
        "kafka", "kafka-init", "minio", "minio-init", "spark-master", "spark-worker", "spark-bronze",
        "spark-silver", "postgres", "ingestion-api", "producer", "company", "dbt", "mlflow", "airflow-init",
        "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "dashboard", "metabase",
        "prometheus", "grafana", "cadvisor",
    }  # fmt: skip
    assert expected <= set(services), f"missing: {sorted(expected - set(services))}"


@pytest.mark.parametrize(("service", "container"), sorted(CONTAINER_NAMES.items()))
def test_documented_container_names_keep_working(services, service, container) -> None:
    assert services[service].get("container_name") == container


@pytest.mark.parametrize(("service", "expected"), sorted(EXPECTED_COMMANDS.items()))
def test_services_run_the_documented_commands(services, service, expected) -> None:
    assert command_words(services[service].get("command")) == expected


def test_cadvisor_which_reaches_the_docker_socket_is_opt_in(services) -> None:
    cadvisor = services["cadvisor"]
    assert cadvisor.get("profiles") == ["host-metrics"]
    assert any(volume.startswith("/var/run:") for volume in cadvisor["volumes"])  # why it is opt-in
    # Nothing that starts by default may mount the socket's folder.
    for name, service in services.items():
        if not service.get("profiles"):
            assert not any(str(v).startswith(("/var/run", "/run")) for v in service.get("volumes", [])), name


def test_company_simulator_is_optional_and_posts_to_the_api(services) -> None:
    company = services["company"]
    assert company.get("profiles") == ["company"]
    words = command_words(company["command"])
    assert words[:2] == ["python", "fake_company.py"]
    assert words[words.index("--api-url") + 1] == "http://ingestion-api:8000"
    assert _environment(company)["LAKEHOUSE_COMPANY_API_KEY"]


def test_dashboard_serves_the_app_at_app_dashboard_py(services) -> None:
    words = command_words(services["dashboard"]["command"])
    assert words[:3] == ["streamlit", "run", "/app/dashboard.py"]
    assert "--server.port=8501" in words and "--server.address=0.0.0.0" in words


def test_dbt_container_is_ready_for_docker_exec_dbt_run(services) -> None:
    dbt = services["dbt"]
    env = _environment(dbt)
    assert dbt["working_dir"] == env["DBT_PROFILES_DIR"] == "/app/dbt_project"
    assert not is_one_shot(dbt)


def test_mlflow_uses_postgres_backend_and_minio_artifacts(services) -> None:
    command = " ".join(command_words(services["mlflow"]["command"]))
    env = _environment(services["mlflow"])
    assert '--backend-store-uri "${MLFLOW_DB_URI}"' in command and env["MLFLOW_DB_URI"].endswith(
        "@postgres:5432/mlflow"
    )
    assert '--artifacts-destination "s3://' in command and "--serve-artifacts" in command
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"


def test_mlflow_runs_its_auth_app_prepared_before_it_starts(services) -> None:
    command = " ".join(command_words(services["mlflow"]["command"]))
    assert command.index("prepare_auth.py &&") < command.index("exec mlflow server --app-name basic-auth")
    env = _environment(services["mlflow"])
    assert env["MLFLOW_AUTH_CONFIG_PATH"].startswith("/tmp/")
    assert env["MLFLOW_FLASK_SERVER_SECRET_KEY"] and env["MLFLOW_AUTH_ADMIN_PASSWORD"]


# Who holds each secret (besides the service that owns it): the least-privilege map of
# docker-compose.yaml. A new service that merges the wrong map shows up here.
AIRFLOW = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"}
SECRET_HOLDERS = {
    "S3_WRITER_SECRET_KEY": {"minio-init", "spark-bronze", "spark-silver"} | AIRFLOW,
    "S3_READER_SECRET_KEY": {"minio-init", "dashboard"},
    "S3_MLFLOW_SECRET_KEY": {"minio-init", "mlflow"},
    "MINIO_ROOT_PASSWORD": {"minio", "minio-init"},
    "MLFLOW_ADMIN_PASSWORD": {"mlflow"},
    "MLFLOW_TRAINER_PASSWORD": {"mlflow"} | AIRFLOW,
    "MLFLOW_READER_PASSWORD": {"mlflow", "spark-silver", "dashboard"},
    "SPARK_AUTH_SECRET": {"spark-master", "spark-worker", "spark-bronze", "spark-silver"} | AIRFLOW,
}


@pytest.mark.parametrize("variable", sorted(SECRET_HOLDERS))
def test_each_secret_reaches_only_the_services_that_need_it(services, generated_env, variable) -> None:
    secret = generated_env[variable]
    holders = {name for name, svc in services.items() if any(secret in v for v in _environment(svc).values())}
    assert holders == SECRET_HOLDERS[variable]


def test_the_api_and_the_producers_hold_no_lake_mlflow_or_spark_credentials(services) -> None:
    for name in ("ingestion-api", "producer", "company", "dbt", "metabase-init"):
        env = _environment(services[name])
        held = {
            key for key in env if key.startswith(("LAKEHOUSE_S3_ACCESS", "LAKEHOUSE_S3_SECRET", "MLFLOW_TRACKING_P"))
        }
        assert held == set() and "LAKEHOUSE_SPARK_AUTH_SECRET" not in env, name


def test_spark_master_and_workers_require_the_secret_and_the_ui_cannot_kill(services) -> None:
    master = _environment(services["spark-master"])["SPARK_MASTER_OPTS"]
    worker = _environment(services["spark-worker"])["SPARK_WORKER_OPTS"]
    for opts in (master, worker):
        assert "-Dspark.authenticate=true" in opts and "-Dspark.authenticate.secret=" in opts
        assert "-Dspark.ui.killEnabled=false" in opts


def test_kafka_has_no_listener_outside_the_compose_network(services) -> None:
    env = _environment(services["kafka"])
    assert "ports" not in services["kafka"]
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"


def test_every_long_running_service_has_a_healthcheck(services) -> None:
    missing = [
        name for name, svc in services.items() if not is_one_shot(svc) and not svc.get("healthcheck", {}).get("test")
    ]
    assert missing == []


def test_depends_on_targets_exist_and_wait_for_the_right_condition(services) -> None:
    problems = []
    for name, svc in services.items():
        depends = svc.get("depends_on", {})
        if isinstance(depends, list):
            problems.append(f"{name}: depends_on must name a condition for each service")
            continue
        for target, spec in depends.items():
            if target not in services:
                problems.append(f"{name} -> {target}: no such service")
                continue
            condition = spec.get("condition")
            if is_one_shot(services[target]):
                wanted = "service_completed_successfully"
            else:
                wanted = "service_healthy"
                if not services[target].get("healthcheck"):
                    problems.append(f"{name} -> {target}: waits for health but {target} has no healthcheck")
            if condition != wanted:
                problems.append(f"{name} -> {target}: condition {condition!r}, expected {wanted!r}")
    assert problems == []


def test_dependency_graph_has_no_cycle(services) -> None:
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "visiting", f"cycle: {' -> '.join([*path, name])}"
        state[name] = "visiting"
        for target in services[name].get("depends_on", {}):
            visit(target, [*path, name])
        state[name] = "done"

    for name in services:
        visit(name, [])


def test_streaming_jobs_start_after_topic_bucket_and_cluster(services) -> None:
    for job in ("spark-bronze", "spark-silver"):
        assert {"kafka-init", "minio-init", "spark-worker"} <= set(services[job]["depends_on"])
    assert "postgres" in services["spark-silver"]["depends_on"]


def test_spark_jobs_run_on_the_cluster_with_a_core_cap_and_a_reachable_driver(services) -> None:
    for job in ("spark-bronze", "spark-silver"):
        env = _environment(services[job])
        assert env["LAKEHOUSE_SPARK_MASTER"] == "spark://spark-master:7077"
        submit = env["PYSPARK_SUBMIT_ARGS"]
        # Without a cap the first job takes every core and the second waits forever.
        assert "spark.cores.max=" in submit and submit.endswith("pyspark-shell")
        assert f"spark.driver.host={services[job]['hostname']}" in submit
        assert services[job]["image"] == services["spark-worker"]["image"] == services["spark-master"]["image"]


def test_spark_workers_can_be_scaled(services) -> None:
    worker = services["spark-worker"]
    assert "container_name" not in worker and not worker.get("ports"), "a fixed name or host port blocks --scale"


def test_app_containers_get_settings_that_load_in_docker_mode(services) -> None:
    # Every LAKEHOUSE_* variable names a real setting (a typo would be silently ignored), and the
    # environment each container gets builds a valid Settings with env=docker (secrets present).
    fields = {f"LAKEHOUSE_{name.upper()}" for name in Settings.model_fields}
    for name, svc in _app_services(services).items():
        if name in SETTINGS_FREE_APPS:
            continue
        env = _environment(svc)
        unknown = {key for key in env if key.startswith("LAKEHOUSE_")} - fields
        assert unknown == set(), f"{name}: unknown settings {sorted(unknown)}"
        values = {key.removeprefix("LAKEHOUSE_").lower(): value for key, value in env.items() if key in fields}
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        assert settings.env == "docker"
        assert settings.kafka_bootstrap == "kafka:9092"
        assert settings.lake_is_s3 and settings.lake_uri.endswith("/lake")
        assert settings.s3_endpoint == "http://minio:9000"
        # Lake credentials only where the lake is read or written (SECRET_HOLDERS below).
        assert bool(settings.s3_secret_key) == (name in LAKE_USERS), name
        assert settings.mlflow_tracking_uri == "http://mlflow:5000"
        assert settings.api_keys, f"{name}: no API keys"
        assert settings.pg_dsn and settings.pg_dsn.endswith("@postgres:5432/market_db")
        assert settings.pg_readonly_dsn and settings.pg_readonly_dsn.startswith("postgresql://lakehouse_reader:")


LAKE_USERS = {"spark-bronze", "spark-silver", "dashboard", "airflow-init", "airflow-apiserver", "airflow-scheduler",
              "airflow-dag-processor"}  # fmt: skip

# Who may write PostgreSQL's market_db: the silver mirror, dbt and Airflow's tasks, nobody else.
WRITERS = {"spark-silver", "dbt", "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"}


def test_only_the_writers_hold_the_writer_password(services, generated_env) -> None:
    secret = generated_env["PG_WRITER_PASSWORD"]
    holders = {name for name, svc in services.items() if any(secret in v for v in _environment(svc).values())}
    assert holders == WRITERS | {"postgres"}
    for name in WRITERS:
        assert _environment(services[name])["LAKEHOUSE_PG_DSN"].startswith("postgresql://lakehouse_writer:")


def test_dbt_profile_variables_point_at_the_writer_role(services, generated_env) -> None:
    import yaml

    from tests.utils.compose_model import REPO

    profile = (REPO / "dbt_project" / "profiles.yml").read_text()
    for name in ("dbt", "airflow-scheduler"):
        env = _environment(services[name])
        for variable in ("DBT_PG_HOST", "DBT_PG_USER", "DBT_PG_PASSWORD"):
            assert f"env_var('{variable}'" in profile, f"profiles.yml no longer reads {variable}"
            assert env[variable], f"{name}: {variable} is empty"
        assert env["DBT_PG_HOST"] == "postgres" and env["DBT_PG_USER"] == "lakehouse_writer"
        assert env["DBT_PG_PASSWORD"] == generated_env["PG_WRITER_PASSWORD"]
    assert yaml.safe_load(profile)


def test_dashboard_connects_with_the_read_only_role_only(services) -> None:
    env = _environment(services["dashboard"])
    assert env["LAKEHOUSE_PG_DSN"].startswith("postgresql://lakehouse_reader:")
    assert env["LAKEHOUSE_PG_READONLY_DSN"].startswith("postgresql://lakehouse_reader:")


@pytest.mark.parametrize(("service", "path"), sorted(DATA_PATHS.items()))
def test_named_volumes_sit_where_each_image_keeps_its_data(compose, service, path) -> None:
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in compose["services"][service]["volumes"]}
    assert path in mounts, f"{service} has no volume at {path}"
    assert mounts[path] in compose["volumes"], f"{service}: {mounts[path]} is not a named volume"


def test_data_paths_agree_with_the_services_own_settings(services) -> None:
    master = _environment(services["spark-master"])["SPARK_MASTER_OPTS"]
    assert "-Dspark.deploy.recoveryMode=FILESYSTEM" in master
    assert f"-Dspark.deploy.recoveryDirectory={DATA_PATHS['spark-master']}/" in master
    assert _environment(services["kafka"])["KAFKA_LOG_DIRS"] == DATA_PATHS["kafka"]
    assert command_words(services["minio"]["command"])[:2] == ["server", DATA_PATHS["minio"]]
    assert "--storage.tsdb.path=/prometheus" in command_words(services["prometheus"]["command"])


def test_every_named_volume_is_declared_and_used(compose) -> None:
    used = set()
    for svc in compose["services"].values():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":")[0]
            if not source.startswith(("/", ".")):
                used.add(source)
    assert used == set(compose["volumes"])


def test_no_docker_socket_in_application_containers(services) -> None:
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source, _target, *mode = str(volume).split(":")
            touches_docker = "docker.sock" in source or source in ("/var/run", "/run", "/var/lib/docker/", "/")
            if name in INFRASTRUCTURE:
                assert mode == ["ro"], f"{name}: host mount {volume} must be read-only"
            else:
                assert not touches_docker, f"{name} mounts {volume}"
                # Only repository files (./...) and named volumes: no absolute host path at all.
                assert not source.startswith("/"), f"{name} mounts the host path {source}"
        assert not svc.get("privileged"), f"{name} is privileged"


def test_app_containers_are_hardened(services) -> None:
    for name, svc in _app_services(services).items():
        assert svc.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in svc.get("security_opt", []), name
    for name, svc in services.items():
        assert "no-new-privileges:true" in svc.get("security_opt", []), name


def test_published_ports_listen_on_the_configured_address_only(compose_raw) -> None:
    for name, svc in compose_raw["services"].items():
        for entry in svc.get("ports", []):
            assert str(entry).startswith("${BIND_ADDRESS:-127.0.0.1}:"), f"{name}: {entry}"


def test_published_ports_do_not_collide(services) -> None:
    seen: dict[int, str] = {}
    for name, svc in services.items():
        for _address, host, _container in published_ports(svc):
            assert host not in seen, f"{name} and {seen.get(host)} both publish {host}"
            seen[host] = name


def test_each_of_our_images_is_built_by_exactly_one_service(services) -> None:
    # Several services building one tag would run as many identical builds at once.
    builders: dict[str, list[str]] = {}
    for name, svc in services.items():
        if "build" in svc:
            builders.setdefault(svc["image"], []).append(name)
            dockerfile, group = APP_IMAGES[svc["image"]]
            assert svc["build"]["dockerfile"] == dockerfile, name
            assert svc["build"]["args"] == {"DEPENDENCY_GROUP": group}, name
    assert builders == {
        "lakehouse/ingest:local": ["ingestion-api"],
        "lakehouse/dbt:local": ["dbt"],
        "lakehouse/mlflow:local": ["mlflow"],
        "lakehouse/dashboard:local": ["dashboard"],
        "lakehouse/spark:local": ["spark-master"],
        "lakehouse/airflow:local": ["airflow-init"],
    }
    for name, svc in services.items():
        if svc.get("image") in APP_IMAGES and "build" not in svc:
            assert svc.get("pull_policy") == "never", f"{name} would try to pull {svc['image']}"


def test_external_images_are_pinned(services) -> None:
    for name, svc in services.items():
        image = svc["image"]
        if image in APP_IMAGES:
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest" and "/" not in tag, f"{name}: {image} is not pinned"
        assert any(ch.isdigit() for ch in tag), f"{name}: {image} has no version in its tag"


def test_airflow_settings_name_real_airflow_options(services) -> None:
    # AIRFLOW__SECTION__KEY with a typo is silently ignored by Airflow: check each against its config.
    import importlib.util
    from pathlib import Path

    import yaml

    spec = importlib.util.find_spec("airflow")
    assert spec and spec.submodule_search_locations
    template = Path(next(iter(spec.submodule_search_locations))) / "config_templates" / "config.yml"
    options = {
        (section, option)
        for section, body in yaml.safe_load(template.read_text()).items()
        for option in body["options"]
    }
    names = {key for name, svc in services.items() if name.startswith("airflow") for key in _environment(svc)}
    airflow_vars = {key for key in names if key.startswith("AIRFLOW__")}
    assert len(airflow_vars) >= 10
    unknown = sorted(key for key in airflow_vars if tuple(part.lower() for part in key.split("__")[1:3]) not in options)
    assert unknown == []


def _duration_s(value: str) -> float:
    """A compose duration (`1m30s`, `45s`, `500ms`) in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", value)
    assert parts and "".join(n + u for n, u in parts) == value, f"not a compose duration: {value!r}"
    return sum(float(number) * units[unit] for number, unit in parts)


def _shutdown_flush_budgets() -> dict[str, float]:
    """What each Kafka-writing service may spend between SIGTERM and exit, read from the code."""
    from lakehouse.ingest.api.app import SHUTDOWN_FLUSH_TIMEOUT_S as API_FLUSH_S
    from lakehouse.ingest.exchange_feed import ProducerOptions
    from lakehouse.kafka.trade_producer import POLLER_JOIN_TIMEOUT_S

    # The API first lets requests in flight finish: each waits up to api_kafka_timeout_ms for Kafka.
    in_flight_s = Settings.model_fields["api_kafka_timeout_ms"].default / 1000
    return {
        "producer": ProducerOptions().flush_timeout_s + POLLER_JOIN_TIMEOUT_S,
        "ingestion-api": in_flight_s + API_FLUSH_S + POLLER_JOIN_TIMEOUT_S,
    }


@pytest.mark.parametrize("name", ["producer", "ingestion-api"])
def test_docker_waits_longer_than_the_kafka_flush_on_shutdown(services: dict[str, Any], name: str) -> None:
    # Past stop_grace_period (10 s unless set) Docker sends SIGKILL: buffered trades would be lost.
    budget = _shutdown_flush_budgets()[name]
    grace = _duration_s(str(services[name].get("stop_grace_period", "10s")))
    assert grace >= budget + 5, f"{name}: stop_grace_period {grace:.0f}s, but the flush may take {budget:.0f}s"


def test_compose_durations_parse() -> None:
    assert _duration_s("1m30s") == 90
    assert _duration_s("500ms") == 0.5
    with pytest.raises(AssertionError):
        _duration_s("30")
