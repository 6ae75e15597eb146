"""Secrets come from .env: every variable is documented, required ones fail loudly, `make up` fills them."""

from __future__ import annotations

import ast
import base64
import hashlib
import re

import pytest

from tests.utils.compose_fixtures import run_make_env
from tests.utils.compose_model import (
    COMPOSE_FILE,
    REPO,
    InterpolationError,
    interpolate_string,
    load_compose,
    parse_env_file,
    variable_uses,
)

SECRET_WORDS = ("PASSWORD", "SECRET", "FERNET", "API_KEY", "_KEY")
URL_SAFE = re.compile(r"^[A-Za-z0-9_=-]+$")


@pytest.fixture(scope="module")
def uses():
    return variable_uses(COMPOSE_FILE.read_text())


def _required(uses) -> set[str]:
    return {use.name for use in uses if use.required}


def test_interpolation_follows_the_compose_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate_string("${SET}-${SET:-d}-${EMPTY:-d}-${EMPTY-d}-${UNSET-d}", env) == "x-x-d--d"
    assert interpolate_string("$$HOME and $${SET} and $SET", env) == "$HOME and ${SET} and x"
    with pytest.raises(InterpolationError, match="EMPTY"):
        interpolate_string("${EMPTY:?needed}", env)
    assert interpolate_string("${EMPTY?needed}", env) == ""


def test_every_variable_has_a_documented_value_or_is_required(uses, env_example) -> None:
    # A variable without a default and not marked required would silently become "" in a container.
    problems = [
        f"${{{use.name}}}" for use in uses if not use.required and not use.has_default and not env_example.get(use.name)
    ]
    assert problems == []


def test_every_variable_is_listed_in_env_example(uses, env_example) -> None:
    assert {use.name for use in uses} - set(env_example) == set()


def test_defaults_in_compose_agree_with_env_example(uses, env_example) -> None:
    mismatched = {
        use.name: (use.argument, env_example[use.name])
        for use in uses
        if use.has_default and env_example.get(use.name) and use.argument != env_example[use.name]
    }
    assert mismatched == {}


def test_secrets_are_required_and_never_have_a_default(uses) -> None:
    for use in uses:
        if any(word in use.name for word in SECRET_WORDS):
            assert use.required, f"${{{use.name}}} is a secret: write it ${{{use.name}:?message}}"


def test_env_example_holds_no_secret_value(env_example, uses) -> None:
    assert {name: value for name, value in env_example.items() if name in _required(uses) and value} == {}


def test_compose_refuses_to_start_without_the_secrets(env_example) -> None:
    with pytest.raises(InterpolationError, match="is missing a value"):
        load_compose(env_example)


def test_make_env_covers_every_required_variable(uses, generated_env) -> None:
    missing = sorted(name for name in _required(uses) if not generated_env.get(name))
    assert missing == []
    load_compose(generated_env)  # interpolates without an error


def test_make_env_keeps_the_documented_defaults(generated_env, env_example) -> None:
    for name, value in env_example.items():
        if value:
            assert generated_env[name] == value, name


def test_generated_secrets_are_strong_url_safe_and_fresh(uses, generated_env) -> None:
    second = run_make_env()
    for name in _required(uses) - {"API_KEYS"}:  # client:sha256 entries, checked below
        value = generated_env[name]
        assert URL_SAFE.match(value), f"{name} would break a connection URL: {value!r}"
        if any(word in name for word in ("PASSWORD", "SECRET", "FERNET")):
            assert len(value) >= 32, name
            assert second[name] != value, f"{name} is not random"


def test_generated_airflow_fernet_key_is_valid(generated_env) -> None:
    assert len(base64.urlsafe_b64decode(generated_env["AIRFLOW_FERNET_KEY"])) == 32


def test_generated_api_key_entry_admits_the_company_key(generated_env) -> None:
    client, _, digest = generated_env["API_KEYS"].partition(":")
    assert client == "company"
    assert digest == hashlib.sha256(generated_env["COMPANY_API_KEY"].encode()).hexdigest()


def test_kafka_cluster_id_is_a_base64url_uuid(env_example) -> None:
    cluster_id = env_example["KAFKA_CLUSTER_ID"]
    raw = base64.urlsafe_b64decode(cluster_id + "==")
    assert len(raw) == 16 and base64.urlsafe_b64encode(raw).decode().rstrip("=") == cluster_id


def test_dotenv_is_ignored_by_git_and_docker() -> None:
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored and ".lakehouse" in ignored and ".venv" in ignored


def test_no_secret_is_written_into_the_compose_file() -> None:
    # Any environment entry whose name says secret must take its value from a variable.
    for line in COMPOSE_FILE.read_text().splitlines():
        match = re.match(r"\s+([A-Z][A-Z0-9_]*):\s*(.+)$", line)
        name = match.group(1) if match else ""
        if any(word in name for word in ("PASSWORD", "SECRET", "FERNET")) and not name.endswith("_FILE"):
            assert match and "${" in match.group(2), line


def test_parse_env_file_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_env_file("A=1\nnot a setting\n")


def test_compose_env_never_sets_local_mode_settings(env_example, generated_env) -> None:
    # lakehouse.settings also reads .env: a LAKEHOUSE_* line written for compose would change local runs.
    assert [name for name in (*env_example, *generated_env) if name.startswith("LAKEHOUSE_")] == []


def test_a_compose_env_file_leaves_local_settings_unchanged(generated_env, tmp_path) -> None:
    from lakehouse.settings import Settings

    dotenv = tmp_path / ".env"
    dotenv.write_text("".join(f"{key}={value}\n" for key, value in generated_env.items()))
    with_compose_env = Settings(_env_file=dotenv).model_dump()  # type: ignore[call-arg]
    assert with_compose_env == Settings(_env_file=None).model_dump()  # type: ignore[call-arg]


def _settings_read_by_alerts() -> set[str]:
    """The Settings fields lakehouse/orchestration/alerts.py reads (`settings.<field>`)."""
    tree = ast.parse((REPO / "lakehouse" / "orchestration" / "alerts.py").read_text())
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "settings"
    }


def test_every_setting_the_alerts_read_reaches_every_airflow_container(services) -> None:
    from lakehouse.settings import ENV_PREFIX, Settings

    fields = _settings_read_by_alerts()
    assert {"alert_webhook_url", "alert_telegram_chat_id"} <= fields <= set(Settings.model_fields)
    airflow = {name: service for name, service in services.items() if "AIRFLOW_HOME" in service.get("environment", {})}
    assert {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"} <= set(airflow)
    missing = {
        name: sorted(f"{ENV_PREFIX}{field.upper()}" for field in fields)
        for name, service in airflow.items()
        if any(f"{ENV_PREFIX}{field.upper()}" not in service["environment"] for field in fields)
    }
    assert missing == {}


def test_alert_settings_from_env_reach_the_scheduler_settings(generated_env, monkeypatch) -> None:
    from lakehouse.settings import Settings

    url, chat = "https://api.telegram.org/bot123:abc/sendMessage", "-10042"
    env = {**generated_env, "ALERT_WEBHOOK_URL": url, "ALERT_TELEGRAM_CHAT_ID": chat}
    scheduler_env = load_compose(env)["services"]["airflow-scheduler"]["environment"]
    for key, value in scheduler_env.items():
        monkeypatch.setenv(key, str(value))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.alert_webhook_url, settings.alert_telegram_chat_id) == (url, chat)
    # Unset in .env (make_env.sh writes neither): empty, so alerts fall back to the task log.
    unset = load_compose(generated_env)["services"]["airflow-scheduler"]["environment"]
    assert (unset["LAKEHOUSE_ALERT_WEBHOOK_URL"], unset["LAKEHOUSE_ALERT_TELEGRAM_CHAT_ID"]) == ("", "")
