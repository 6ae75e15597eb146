"""The registry behind MLflow's basic-auth app, as compose runs it (ops/mlflow/prepare_auth.py, then
`mlflow server --app-name basic-auth`), here on SQLite: the platform's code works with its users, and
each user can do only its part.

The server answers 403, not 404, for the alias of a model that does not exist yet: the platform must
read that as "no champion yet" (a fresh stack), not as an error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lakehouse.local.processes import free_port
from lakehouse.ml import registry
from lakehouse.settings import Settings
from tests.utils.compose_model import REPO

PASSWORDS = {"trainer": "trainer-password-0123456789", "reader": "reader-password-0123456789"}
SERVER_ENV: dict[str, str] = {}  # the environment the module's server was prepared and started with


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("mlflow-auth")
    env = {
        **os.environ,
        "MLFLOW_DB_URI": f"sqlite:///{folder}/auth.db",
        "MLFLOW_AUTH_CONFIG_PATH": str(folder / "auth" / "basic_auth.ini"),
        "MLFLOW_AUTH_ADMIN_USERNAME": "admin",
        "MLFLOW_AUTH_ADMIN_PASSWORD": "admin-password-0123456789",
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "0123456789abcdef0123456789abcdef",
        "MLFLOW_TRAINER_PASSWORD": PASSWORDS["trainer"],
        "MLFLOW_READER_PASSWORD": PASSWORDS["reader"],
    }
    for variable in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_URI"):
        env.pop(variable, None)
    SERVER_ENV.update(env)
    prepared = subprocess.run([sys.executable, str(REPO / "ops" / "mlflow" / "prepare_auth.py")], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr
    assert (Path(env["MLFLOW_AUTH_CONFIG_PATH"]).stat().st_mode & 0o777) == 0o600  # it names the database
    port = free_port()
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--backend-store-uri", f"sqlite:///{folder}/tracking.db",
         "--artifacts-destination", str(folder / "artifacts"), "--serve-artifacts"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (folder / "server.log").read_text()
            time.sleep(1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def as_user(monkeypatch: pytest.MonkeyPatch, server: str):  # type: ignore[no-untyped-def]
    """Switch the MLflow client to one user, as a container's MLFLOW_TRACKING_USERNAME/PASSWORD do."""

    # Earlier tests in the session may have left the scorer's fail-fast client settings in os.environ
    # (5 s, one retry: lakehouse/ml/scoring.py); a cold auth server on a busy machine needs longer.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")

    def switch(user: str) -> None:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORDS[user])
        registry.connect_mlflow(Settings(mlflow_tracking_uri=server))

    return switch


def _alias(server: str, auth: tuple[str, str] | None, version: str) -> int:
    body = {"name": registry.MODEL_NAME, "alias": registry.CHAMPION_ALIAS, "version": version}
    return httpx.post(f"{server}/api/2.0/mlflow/registered-models/alias", json=body, auth=auth, timeout=30).status_code


def test_each_user_does_its_part_and_nobody_else_moves_the_champion(server: str, as_user) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow import MlflowClient

    # A fresh registry: no model, so no champion, for the scorer and the trainer alike (not an error).
    as_user("reader")
    assert registry.current_champion() is None
    as_user("trainer")
    assert registry.current_champion() is None

    registry.configure_mlflow(Settings(mlflow_tracking_uri=server))  # the trainer creates the experiment
    with mlflow.start_run() as run:
        mlflow.log_metric("rmse_bps", 1.0)
    client = MlflowClient()
    client.create_registered_model(registry.MODEL_NAME)
    version = client.create_model_version(registry.MODEL_NAME, f"runs:/{run.info.run_id}/model", run.info.run_id)
    registry.promote(str(version.version))

    as_user("reader")  # the silver scorer and the dashboard find it
    champion = registry.current_champion()
    assert champion is not None and champion.version == str(version.version)

    assert httpx.get(f"{server}/api/2.0/mlflow/registered-models/search", timeout=30).status_code == 401
    assert _alias(server, None, str(version.version)) == 401
    assert _alias(server, ("reader", PASSWORDS["reader"]), str(version.version)) == 403
    assert _alias(server, ("reader", "a guess"), str(version.version)) == 401
    assert _alias(server, ("trainer", PASSWORDS["trainer"]), str(version.version)) == 200


def test_preparing_again_resets_a_password_from_the_environment(server: str) -> None:
    # What the next start after a regenerated .env does: the old password stops working, the new one works.
    env = {**SERVER_ENV, "MLFLOW_READER_PASSWORD": "rotated-reader-password-0123"}
    prepared = subprocess.run([sys.executable, str(REPO / "ops" / "mlflow" / "prepare_auth.py")], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr
    search = f"{server}/api/2.0/mlflow/registered-models/search"
    assert httpx.get(search, auth=("reader", "rotated-reader-password-0123"), timeout=30).status_code == 200
    assert httpx.get(search, auth=("reader", PASSWORDS["reader"]), timeout=30).status_code == 401
