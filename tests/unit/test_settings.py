import hashlib

import pytest

from lakehouse.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for key in list(__import__("os").environ):
        if key.startswith("LAKEHOUSE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "state"))


def test_defaults_are_local_and_lake_is_a_folder_under_the_state_dir(tmp_path) -> None:
    settings = load_settings()
    assert settings.env == "local"
    assert settings.kafka_topic == "raw-trades"
    assert settings.lake_uri == (tmp_path / "state" / "lake").as_uri()
    assert settings.table_uri("silver", "trades").endswith("/lake/silver/trades")
    assert settings.checkpoints.endswith("/lake/_checkpoints")
    assert len(settings.symbols) == 10 and all(s.isupper() for s in settings.symbols)


def test_bad_value_names_the_variable_and_what_it_expects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_KAFKA_PARTITIONS", "three")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "LAKEHOUSE_KAFKA_PARTITIONS" in str(error.value)
    assert "integer" in str(error.value)


def test_bootstrap_without_port_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_KAFKA_BOOTSTRAP", "localhost")
    with pytest.raises(SettingsError, match="LAKEHOUSE_KAFKA_BOOTSTRAP.*host:port"):
        load_settings()


def test_api_keys_parse_client_and_sha256(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = hashlib.sha256(b"k").hexdigest()
    monkeypatch.setenv("LAKEHOUSE_API_KEYS", f"tsla-feed:{digest}, other:{digest.upper()}")
    assert load_settings().api_keys == {"tsla-feed": digest, "other": digest}


def test_api_key_that_is_not_a_sha256_digest_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_API_KEYS", "tsla-feed:plaintext-key")
    with pytest.raises(SettingsError, match="LAKEHOUSE_API_KEYS.*apikey create"):
        load_settings()


def test_symbols_are_comma_separated_and_upper_cased(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_SYMBOLS", "btcusdt, ethusdt")
    assert load_settings().symbols == ["BTCUSDT", "ETHUSDT"]


def test_lake_uri_accepts_folder_file_uri_and_s3a(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("LAKEHOUSE_LAKE_URI", str(tmp_path / "lake") + "/")
    assert load_settings().lake_uri == (tmp_path / "lake").as_uri()
    monkeypatch.setenv("LAKEHOUSE_LAKE_URI", "s3a://lakehouse/prod/")
    settings = load_settings()
    assert settings.lake_uri == "s3a://lakehouse/prod" and settings.lake_is_s3
    monkeypatch.setenv("LAKEHOUSE_LAKE_URI", "hdfs://nn/lake")
    with pytest.raises(SettingsError, match="LAKEHOUSE_LAKE_URI"):
        load_settings()


def test_secrets_have_no_default_outside_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_ENV", "docker")
    with pytest.raises(SettingsError, match="LAKEHOUSE_PG_DSN must be set"):
        load_settings()
    monkeypatch.setenv("LAKEHOUSE_PG_DSN", "postgresql://admin:changeme@postgres:5432/market_db")
    with pytest.raises(SettingsError, match="placeholder"):
        load_settings()
    monkeypatch.setenv("LAKEHOUSE_PG_DSN", "postgresql://admin:Zr8yq3Lw@postgres:5432/market_db")
    assert load_settings().env == "docker"


def test_state_env_file_is_read_and_process_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "env").write_text(
        "# written by lakehouse infra up\n"
        "export LAKEHOUSE_KAFKA_BOOTSTRAP='127.0.0.1:40001'\n"
        "export LAKEHOUSE_PG_DSN='postgresql://w:p@127.0.0.1:40002/market_db'\n"
    )
    settings = load_settings()
    assert settings.kafka_bootstrap == "127.0.0.1:40001"
    assert settings.require_pg_dsn().endswith(":40002/market_db")
    monkeypatch.setenv("LAKEHOUSE_KAFKA_BOOTSTRAP", "127.0.0.1:40009")
    assert load_settings().kafka_bootstrap == "127.0.0.1:40009"


def test_missing_dsn_tells_how_to_get_one() -> None:
    with pytest.raises(SettingsError, match="lakehouse infra up"):
        Settings().require_pg_dsn()


def test_kafka_cluster_ids_never_look_like_options() -> None:
    from lakehouse.local.kafka_broker import _cluster_id

    ids = [_cluster_id() for _ in range(2000)]  # about 30 would start with "-" without the guard
    assert not [cluster_id for cluster_id in ids if cluster_id.startswith("-")]
    assert all(len(cluster_id) == 22 for cluster_id in ids)


def test_the_futures_market_brings_its_endpoints_unless_they_are_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_BINANCE_MARKET", "usdm")
    settings = load_settings()
    assert (settings.binance_ws_url, settings.binance_rest_url) == (
        "wss://fstream.binance.com",
        "https://fapi.binance.com",
    )
    monkeypatch.setenv("LAKEHOUSE_BINANCE_WS_URL", "ws://127.0.0.1:9999")
    assert load_settings().binance_ws_url == "ws://127.0.0.1:9999"
    monkeypatch.delenv("LAKEHOUSE_BINANCE_MARKET")
    monkeypatch.delenv("LAKEHOUSE_BINANCE_WS_URL")
    assert load_settings().binance_ws_url == "wss://stream.binance.com:9443"


def test_a_snapshot_budget_over_the_market_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_BOOK_SNAPSHOT_WEIGHT_PER_MIN", "3000")
    assert load_settings().book_snapshot_weight_per_min == 3000  # within spot's 6,000
    monkeypatch.setenv("LAKEHOUSE_BINANCE_MARKET", "usdm")
    with pytest.raises(SettingsError, match="2400 request weight a minute Binance allows on usdm"):
        load_settings()
