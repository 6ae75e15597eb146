"""One typed settings object for every service.

Values come from (highest first) the process environment, `.lakehouse/env` (written by
`lakehouse infra up`), then `.env`. Every variable is prefixed `LAKEHOUSE_`. A bad value stops the
service at start with a message naming the variable and what it expects (`load_settings`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PositiveInt, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lakehouse.ingest.markets import MARKETS
from lakehouse.paths import REPO_ROOT, env_file, state_dir

ENV_PREFIX = "LAKEHOUSE_"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_CLIENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PLACEHOLDERS = {"changeme", "change-me", "changethis", "secret", "password"}

DEFAULT_SYMBOLS = "BTCUSDT,ETHUSDT,BNBUSDT,SOLUSDT,XRPUSDT,DOGEUSDT,ADAUSDT,TRXUSDT,AVAXUSDT,LINKUSDT"


class SettingsError(RuntimeError):
    """Raised when the environment holds a value the platform cannot run with."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Configuration shared by the producer, the API, the Spark jobs, the trainer and the dashboard."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        env_file_encoding="utf-8",
    )

    env: Literal["local", "docker", "production"] = Field(
        "local", description="Deployment mode; secrets must be set explicitly outside `local`."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level of every service")
    # Read by lakehouse.paths before any settings (they say where `.lakehouse/env` is); listed here so
    # they are documented and validated with the rest.
    home: Path | None = Field(None, description="The local state folder (default: .lakehouse/ beside the code)")
    jars_dir: Path | None = Field(
        None, description="Where the resolved JVM jars are (default: <home>/jars); lets state folders share one copy"
    )

    # Kafka
    kafka_bootstrap: str = Field("localhost:9092", description="host:port[,host:port] of the brokers")
    kafka_topic: str = Field("raw-trades", description="The topic every trade lands in")
    kafka_book_ticker_topic: str = Field("raw-book-ticker", description="The topic of top-of-book records")
    kafka_depth_topic: str = Field("raw-depth", description="The topic of order-book diff records")
    kafka_depth_snapshot_topic: str = Field(
        "raw-depth-snapshot", description="The topic of REST depth snapshots (the seeds of book rebuilds)"
    )
    kafka_partitions: PositiveInt = Field(3, description="Partitions of the topic when it is created")

    # Lake and streaming
    lake_uri: str = Field(
        default_factory=lambda: (state_dir() / "lake").as_uri(),
        description="A folder (path or file:// URI) or s3a://bucket/prefix",
    )
    checkpoint_uri: str | None = Field(None, description="Defaults to <lake>/_checkpoints")
    mlflow_dfs_tmpdir: str | None = Field(
        None,
        description="Where mlflow.spark stages models for every Spark executor to read (dfs_tmpdir); "
        "defaults to <lake>/_staging/mlflow",
    )
    s3_endpoint: str | None = Field(None, description="S3-compatible endpoint for s3a:// lakes (MinIO)")
    s3_access_key: str | None = Field(None, description="Access key for an s3a:// lake")
    s3_secret_key: str | None = Field(None, description="Secret key for an s3a:// lake")

    # Spark
    spark_master: str = Field("local[*]", description="Spark master: local[*] or spark://host:7077")
    spark_shuffle_partitions: PositiveInt = Field(4, description="spark.sql.shuffle.partitions")
    spark_driver_memory: str = Field("1g", description="spark.driver.memory")
    spark_auth_secret: str | None = Field(
        None,
        description="Shared secret of a spark:// cluster started with spark.authenticate (compose does); "
        "unset: no authentication, as in local mode",
    )
    spark_log_level: Literal["ERROR", "WARN", "INFO", "DEBUG"] = Field("WARN", description="Spark's own log level")
    spark_jars_local: bool = Field(
        True,
        description="Add this machine's resolved jars to sessions on a spark:// cluster too (off where the "
        "cluster's image already carries them)",
    )
    spark_class_archive: bool = Field(
        True, description="Start Spark drivers with the class-data archive (faster JVM start); off: without it"
    )

    # Streaming jobs (consumer_lake.py, process_silver.py)
    bronze_trigger_s: float = Field(5.0, gt=0, description="Bronze micro-batch interval in seconds")
    silver_trigger_s: float = Field(1.0, gt=0, description="Silver micro-batch interval in seconds")
    silver_book_trigger_s: float = Field(
        1.0,
        gt=0,
        description="Micro-batch interval of the silver book query, in seconds (it publishes one book a second "
        "whatever the interval; a longer one leaves more of a small machine to the trades)",
    )
    # Catch-up batch sizes. Bronze streams each record straight into Parquet (nothing is cached), so
    # larger batches only spread its per-batch cost; silver caches and collects each batch on the driver.
    bronze_max_offsets_per_trigger: PositiveInt = Field(
        1_000_000, description="Upper bound of Kafka records per bronze micro-batch (catch-up batch size)"
    )
    silver_max_offsets_per_trigger: PositiveInt = Field(
        250_000, description="Upper bound of Kafka records per silver micro-batch (catch-up batch size)"
    )
    silver_scorer: str | None = Field(
        "lakehouse.ml.scoring:champion_scorer",
        description="module:function returning the silver scorer (default: the MLflow champion); empty = nulls",
    )
    pg_silver_table: str = Field(
        "silver.trades", pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$", description="The silver mirror in PostgreSQL"
    )
    pg_prices_view: str = Field(
        "public.crypto_prices",
        pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$",
        description="The view over the silver mirror that older clients query",
    )
    pg_order_book_table: str = Field(
        "silver.order_book",
        pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$",
        description="The mirror of silver/order_book in PostgreSQL (what gold's book tables read)",
    )
    pg_book_events_table: str = Field(
        "silver.book_events",
        pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$",
        description="The mirror of silver/book_events in PostgreSQL (gold's sequence health)",
    )
    stream_fault_pause_s: float = Field(
        0.0, ge=0, description="Fault drills only: pause inside each batch at its crash-sensitive point"
    )

    # PostgreSQL
    pg_dsn: str | None = Field(None, description="postgresql://writer:password@host:port/market_db")
    pg_readonly_dsn: str | None = Field(None, description="DSN of the read-only role (dashboard, Metabase)")
    pg_admin_dsn: str | None = Field(None, description="Superuser DSN; local mode and ops tasks only")

    # MLflow
    mlflow_tracking_uri: str = Field(
        default_factory=lambda: f"sqlite:///{state_dir() / 'mlflow' / 'mlflow.db'}",
        description="MLflow tracking store (a database URI, or http:// of an MLflow server)",
    )
    mlflow_artifact_root: str = Field(
        default_factory=lambda: (state_dir() / "mlflow" / "artifacts").as_uri(),
        description="Where new MLflow experiments store their artifacts",
    )

    # Ingestion
    api_keys: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="comma-separated client:sha256-hex-of-key"
    )
    api_max_batch: PositiveInt = Field(5000, description="Trades per API request at most")
    api_max_body_bytes: PositiveInt = Field(5 * 1024 * 1024, description="Request body size at most (bytes)")
    api_rate_limit_per_s: PositiveInt = Field(200, description="Requests per second per API client")
    api_auth_failures_per_min: PositiveInt = Field(
        30,
        description="Failed authentications a minute per client address (per API worker); beyond them the "
        "address gets 429 until its budget refills",
    )
    api_body_timeout_s: float = Field(
        10.0, gt=0, description="Seconds a request body may take to arrive whole; a slower or stalled one gets 408"
    )
    binance_market: Literal["spot", "usdm"] = Field(
        "spot",
        description="The Binance market the producer captures: `spot`, or `usdm` (USD-M futures: "
        "fstream.binance.com and fapi.binance.com unless the two URLs below are set)",
    )
    binance_ws_url: str = Field(
        "wss://stream.binance.com:9443", description="Binance's WebSocket endpoint (default: the market's)"
    )
    binance_rest_url: str = Field(
        "https://api.binance.com", description="Binance's REST endpoint: snapshots, backfills (default: the market's)"
    )
    producer_fallback: Literal["none", "standin"] = Field(
        "none",
        description="producer.py's --fallback default: `standin` serves the local exchange stand-in "
        "when Binance is unreachable",
    )
    standin_recording: Path | None = Field(
        None, description="a recording the fallback stand-in replays (real trades) instead of generated ones"
    )
    standin_speed: float = Field(1.0, ge=0, description="the stand-in's replay speed, x real time (0: full speed)")
    symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: DEFAULT_SYMBOLS.split(","), description="Binance symbols the producer subscribes to"
    )
    book_streams: bool = Field(
        True,
        description="The producer also captures each symbol's `@bookTicker` and `@depth@100ms` (with REST depth "
        "snapshots) into raw-book-ticker, raw-depth and raw-depth-snapshot",
    )
    book_snapshot_weight_per_min: PositiveInt = Field(
        1200,
        description="Binance request weight a minute the producer may spend on depth snapshots (of the 6,000 "
        "spot allows, or 2,400 on USD-M futures)",
    )
    api_workers: PositiveInt = Field(2, description="uvicorn worker processes of the ingestion API")
    api_kafka_timeout_ms: PositiveInt = Field(
        10_000, description="How long the API waits for Kafka to acknowledge a request's records before a 503"
    )
    api_retry_after_s: PositiveInt = Field(5, description="Retry-After (seconds) sent with a 503")
    company_api_key: SecretStr | None = Field(None, description="API key fake_company.py posts with")

    # Local infra (`lakehouse infra up`): ports are chosen free at the first start and kept while free
    infra_kafka_port: int | None = Field(None, ge=1, le=65535, description="Pin the local Kafka broker's port")
    infra_kafka_controller_port: int | None = Field(
        None, ge=1, le=65535, description="Pin the local Kafka controller's port"
    )
    infra_pg_port: int | None = Field(None, ge=1, le=65535, description="Pin the local PostgreSQL server's port")

    # Operations
    dag_retries: int = Field(2, ge=0, description="Retries of every Airflow task")
    dag_retry_delay_s: PositiveInt = Field(60, description="Seconds between Airflow task retries")
    alert_webhook_url: str | None = Field(None, description="Slack- or Telegram-compatible webhook for failures")
    alert_telegram_chat_id: str | None = Field(None, description="chat_id when the webhook is Telegram's sendMessage")
    metrics_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Prometheus port of the producer, the streaming jobs and the trainer (a trainer run beside a "
        "service that holds it serves on a free port, with a warning)",
    )

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_has_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port], got {server!r}")
        return value

    @field_validator("lake_uri", "checkpoint_uri", "mlflow_dfs_tmpdir")
    @classmethod
    def _normalise_uri(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.rstrip("/")
        if value.startswith(("s3a://", "file://")):
            return value
        if "://" in value:
            raise ValueError("expected a folder, a file:// URI or an s3a://bucket/prefix URI")
        return Path(value).expanduser().resolve().as_uri()

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_api_keys(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        keys: dict[str, str] = {}
        for entry in (part.strip() for part in value.split(",")):
            if not entry:
                continue
            client, sep, digest = str(entry).partition(":")
            if not sep or not _CLIENT_NAME.match(client) or not _SHA256_HEX.match(digest.lower()):
                raise ValueError(
                    f"entry {entry!r} is not client:sha256-hex (create one with `lakehouse apikey create CLIENT`)"
                )
            keys[client] = digest.lower()
        return keys

    @field_validator("standin_recording", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: object) -> object:
        # Compose passes an unset optional variable as "" (`${VAR:-}`).
        return None if value == "" else value

    @field_validator("symbols", mode="before")
    @classmethod
    def _parse_symbols(cls, value: object) -> object:
        value = _split_csv(value)
        if isinstance(value, list):
            return [str(symbol).upper() for symbol in value]
        return value

    @model_validator(mode="after")
    def _market_endpoints(self) -> Settings:
        """The chosen market's URLs where none were given, and a snapshot budget within its limit."""
        market = MARKETS[self.binance_market]
        if "binance_ws_url" not in self.model_fields_set:
            self.binance_ws_url = market.ws_url
        if "binance_rest_url" not in self.model_fields_set:
            self.binance_rest_url = market.rest_url
        if self.book_snapshot_weight_per_min > market.weight_per_minute:
            raise ValueError(
                f"book_snapshot_weight_per_min {self.book_snapshot_weight_per_min} is more than the "
                f"{market.weight_per_minute} request weight a minute Binance allows on {market.name}"
            )
        return self

    @model_validator(mode="after")
    def _secrets_are_explicit_outside_local(self) -> Settings:
        if self.env == "local":
            return self
        missing = [name for name in ("pg_dsn",) if not getattr(self, name)]
        if missing:
            raise ValueError(f"{', '.join(ENV_PREFIX + m.upper() for m in missing)} must be set when env={self.env}")
        for name in ("pg_dsn", "s3_secret_key"):
            value = getattr(self, name) or ""
            if any(placeholder in value.lower() for placeholder in _PLACEHOLDERS):
                raise ValueError(f"{ENV_PREFIX}{name.upper()} holds a placeholder secret; set a real one")
        return self

    @property
    def lake_is_s3(self) -> bool:
        return self.lake_uri.startswith("s3a://")

    @property
    def checkpoints(self) -> str:
        return self.checkpoint_uri or f"{self.lake_uri}/_checkpoints"

    @property
    def mlflow_staging_uri(self) -> str:
        """dfs_tmpdir of every mlflow.spark call: shared by the driver and the executors (not /tmp)."""
        return self.mlflow_dfs_tmpdir or f"{self.lake_uri}/_staging/mlflow"

    def table_uri(self, layer: str, name: str) -> str:
        """`<lake>/<layer>/<name>`, e.g. table_uri("silver", "trades")."""
        return f"{self.lake_uri}/{layer}/{name}"

    def require_pg_dsn(self) -> str:
        if not self.pg_dsn:
            raise SettingsError(
                f"{ENV_PREFIX}PG_DSN is not set: run `lakehouse infra up` (local) or set it in .env (docker)"
            )
        return self.pg_dsn


def _describe(error: ValidationError, prefix: str = ENV_PREFIX) -> str:
    lines = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        variable = f"{prefix}{field.upper()}" if field else "settings"
        lines.append(f"{variable}: {item['msg']} (got {item.get('input')!r})")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment; a bad value raises SettingsError naming the variable."""
    env_files = tuple(path for path in (REPO_ROOT / ".env", env_file()) if path.exists())
    try:
        return Settings(_env_file=env_files or None, **overrides)  # type: ignore[call-arg]
    except ValidationError as error:
        raise SettingsError(_describe(error)) from error


class DemoSettings(BaseSettings):
    """`make demo` / `lakehouse demo`, tuned with LAKEHOUSE_DEMO_* (tests and small machines)."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}DEMO_", extra="ignore")

    api_port: int = Field(8000, ge=1, le=65535, description="Ingestion API port (a free one is used if busy)")
    dashboard_port: int = Field(8501, ge=1, le=65535, description="Dashboard port (a free one is used if busy)")
    duration_s: float | None = Field(None, gt=0, description="Stop after this many seconds (unset: until Ctrl-C)")
    dbt_interval_s: float = Field(45.0, gt=0, description="Seconds between the demo's dbt runs")
    # About 2.5 minutes of the default feeds (60 + 20 trades/s): on less, every model loses to the naive
    # forecast (measured: 40 s of history never won), and a failed run costs minutes before the next try.
    train_after_rows: PositiveInt = Field(12_000, description="Silver rows before the first training run")
    train_check_s: float = Field(30.0, gt=0, description="How often the demo checks whether to train")
    train_retry_s: float = Field(120.0, gt=0, description="Seconds before training again after a run that lost")
    company_rate: float = Field(20.0, gt=0, description="Trades per second of the simulated company")
    standin_rate: float = Field(60.0, gt=0, description="Trades per second of the exchange stand-in")
    stop_infra: bool = Field(True, description="Stop the Kafka and PostgreSQL the demo started when it ends")


def load_demo_settings(**overrides: Any) -> DemoSettings:
    try:
        return DemoSettings(**overrides)
    except ValidationError as error:
        raise SettingsError(_describe(error, prefix=f"{ENV_PREFIX}DEMO_")) from error


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built once."""
    return load_settings()
