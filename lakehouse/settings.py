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
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Kafka
    kafka_bootstrap: str = Field("localhost:9092", description="host:port[,host:port] of the brokers")
    kafka_topic: str = "raw-trades"
    kafka_partitions: PositiveInt = 3

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
    s3_access_key: str | None = None
    s3_secret_key: str | None = None

    # Spark
    spark_master: str = "local[*]"
    spark_shuffle_partitions: PositiveInt = 4
    spark_driver_memory: str = "1g"

    # Streaming jobs (consumer_lake.py, process_silver.py)
    bronze_trigger_s: float = Field(5.0, gt=0, description="Bronze micro-batch interval in seconds")
    silver_trigger_s: float = Field(1.0, gt=0, description="Silver micro-batch interval in seconds")
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
    pg_silver_table: str = Field("silver.trades", pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
    pg_prices_view: str = Field("public.crypto_prices", pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
    stream_fault_pause_s: float = Field(
        0.0, ge=0, description="Fault drills only: pause inside each batch at its crash-sensitive point"
    )

    # PostgreSQL
    pg_dsn: str | None = Field(None, description="postgresql://writer:password@host:port/market_db")
    pg_readonly_dsn: str | None = Field(None, description="DSN of the read-only role (dashboard, Metabase)")
    pg_admin_dsn: str | None = Field(None, description="Superuser DSN; local mode and ops tasks only")

    # MLflow
    mlflow_tracking_uri: str = Field(default_factory=lambda: f"sqlite:///{state_dir() / 'mlflow' / 'mlflow.db'}")
    mlflow_artifact_root: str = Field(default_factory=lambda: (state_dir() / "mlflow" / "artifacts").as_uri())

    # Ingestion
    api_keys: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="comma-separated client:sha256-hex-of-key"
    )
    api_max_batch: PositiveInt = 5000
    api_max_body_bytes: PositiveInt = 5 * 1024 * 1024
    api_rate_limit_per_s: PositiveInt = 200
    binance_ws_url: str = "wss://stream.binance.com:9443"
    binance_rest_url: str = "https://api.binance.com"
    producer_fallback: Literal["none", "standin"] = Field(
        "none",
        description="producer.py's --fallback default: `standin` serves the local exchange stand-in "
        "when Binance is unreachable",
    )
    standin_recording: Path | None = Field(
        None, description="a recording the fallback stand-in replays (real trades) instead of generated ones"
    )
    standin_speed: float = Field(1.0, ge=0, description="the stand-in's replay speed, x real time (0: full speed)")
    symbols: Annotated[list[str], NoDecode] = Field(default_factory=lambda: DEFAULT_SYMBOLS.split(","))
    api_workers: PositiveInt = Field(2, description="uvicorn worker processes of the ingestion API")
    api_kafka_timeout_ms: PositiveInt = Field(
        10_000, description="How long the API waits for Kafka to acknowledge a request's records before a 503"
    )
    api_retry_after_s: PositiveInt = Field(5, description="Retry-After (seconds) sent with a 503")
    company_api_key: SecretStr | None = Field(None, description="API key fake_company.py posts with")

    # Operations
    alert_webhook_url: str | None = Field(None, description="Slack- or Telegram-compatible webhook for failures")
    alert_telegram_chat_id: str | None = Field(None, description="chat_id when the webhook is Telegram's sendMessage")
    metrics_port: int | None = Field(None, ge=0, le=65535)

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


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        variable = f"{ENV_PREFIX}{field.upper()}" if field else "settings"
        lines.append(f"{variable}: {item['msg']} (got {item.get('input')!r})")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment; a bad value raises SettingsError naming the variable."""
    env_files = tuple(path for path in (REPO_ROOT / ".env", env_file()) if path.exists())
    try:
        return Settings(_env_file=env_files or None, **overrides)  # type: ignore[call-arg]
    except ValidationError as error:
        raise SettingsError(_describe(error)) from error


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built once."""
    return load_settings()
