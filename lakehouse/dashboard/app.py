"""The Streamlit page: `streamlit run dashboard.py`.

Each panel is a fragment that re-runs on its own timer (no full page reload); every query is cached
with a short TTL, so a room full of browsers costs PostgreSQL one query per panel per TTL.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from lakehouse.dashboard import analytics, charts, health, queries
from lakehouse.dashboard.repository import (
    DashboardConfigError,
    QueryResult,
    forecast_horizon_s,
    query,
    reader_dsn,
)
from lakehouse.settings import Settings, SettingsError, load_settings

log = logging.getLogger(__name__)

QUERY_TTL_S = 5
PROBE_TTL_S = 15
REGISTRY_TTL_S = 60
LIVE_REFRESH_S = 5
HEALTH_REFRESH_S = 15
WINDOWS = {"1 hour": timedelta(hours=1), "6 hours": timedelta(hours=6), "24 hours": timedelta(hours=24)}
LATEST_TRADES = 15
PREDICTION_SAMPLE = 2000
INGEST_WINDOW_S = 300
QUARANTINE_WINDOW = timedelta(hours=1)
NO_GOLD = (
    "No gold candles yet. Start the pipeline (`lakehouse demo`, or `producer.py` + `process_silver.py`), "
    "then build gold with dbt (the `dbt_gold` DAG, or `dbt build` in dbt_project/). This page refreshes by itself."
)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def cached_query(dsn: str, sql: str, params: tuple[tuple[str, Any], ...] = ()) -> QueryResult:
    """Cached per (database, SQL, parameters); list parameters arrive as tuples (hashable)."""
    return query(dsn, sql, {k: list(v) if isinstance(v, tuple) else v for k, v in params})


@st.cache_data(ttl=REGISTRY_TTL_S, show_spinner=False)
def champion_version(tracking_uri: str) -> tuple[str | None, str]:
    """(version, note): the registry's @champion, or None with why (no model yet, registry unreachable)."""
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).exists():
        return None, "no model registry yet (run train_model.py)"
    # Fail fast instead of MLflow's default minutes of retries when the server is down.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from lakehouse.ml.registry import CHAMPION_ALIAS, MODEL_NAME
    from lakehouse.ml.registry import champion_version as champion_of

    try:
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        version = champion_of(client)
    except MlflowException as error:
        return None, f"registry unreachable: {error.message[:120]}"
    except Exception as error:  # any outage of an optional panel becomes a note, not a crash
        return None, f"registry unreachable: {type(error).__name__}"
    if version is None:
        return None, f"no {MODEL_NAME}@{CHAMPION_ALIAS} yet{_why_not_promoted(client, MODEL_NAME)}"
    return str(version.version), f"{MODEL_NAME}@{CHAMPION_ALIAS}"


def _why_not_promoted(client: Any, model_name: str) -> str:
    """`: v3 was not promoted (RMSE ... does not beat ...)` from the newest version's gate tags, or ''."""
    try:
        versions = client.search_model_versions(f"name='{model_name}'")
    except Exception:  # the reason is a courtesy; its absence is not an error
        return ""
    if not versions:
        return " (no model trained yet)"
    newest = max(versions, key=lambda version: int(version.version))
    reason = (newest.tags or {}).get("gate_reason")
    return f": v{newest.version} was not promoted ({reason})" if reason else ""


@st.cache_data(ttl=PROBE_TTL_S, show_spinner=False)
def kafka_lag(_settings: Settings, key: str) -> dict[str, str]:
    """Lag per streaming job as display text (a probe that fails says why). `key` carries the cache identity."""
    out: dict[str, str] = {}
    for job in health.STREAM_JOBS:
        try:
            lag = health.consumer_lag(_settings, job)
        except Exception as error:  # Kafka or the lake down: the panel says so
            out[job] = f"unavailable ({type(error).__name__}: {str(error)[:80]})"
            continue
        out[job] = "not started" if lag.batch_id is None else f"{lag.lag:,} records"
    return out


@st.cache_data(ttl=PROBE_TTL_S, show_spinner=False)
def quarantined_recently(_settings: Settings, key: str, since: datetime) -> int | None:
    try:
        return health.quarantined_since(_settings, since)
    except Exception as error:  # the lake unreachable: the panel says n/a
        log.warning("quarantine probe failed: %s", error)
        return None


def _params(**values: Any) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items()))


def _fmt(value: float | None, pattern: str = "{:,.4f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def live_panel(dsn: str, symbol: str, window: timedelta) -> None:
    newest = cached_query(dsn, queries.NEWEST_BUCKET, _params(symbol=symbol)).frame
    if newest.empty or pd.isna(newest["newest"].iloc[0]):
        st.info(f"No candles for {symbol} yet.")
        return
    newest_bucket = newest["newest"].iloc[0].to_pydatetime()
    day = cached_query(dsn, queries.CANDLES, _params(symbol=symbol, since=newest_bucket - analytics.DAY)).frame
    figures = analytics.kpis(day)
    if figures is not None:
        columns = st.columns(4)
        columns[0].metric("Last price", _fmt(figures.last_price))
        span = analytics.describe_span(figures.change_span)
        columns[1].metric(f"Change {span}", _fmt(figures.change, "{:+.2%}"), help=f"From the open {span} ago")
        columns[2].metric("VWAP 24 h", _fmt(figures.vwap_24h))
        columns[3].metric("Realized volatility 24 h", _fmt(figures.realized_vol_24h, "{:.2%}"))
    since = newest_bucket - window
    candles = day[day["bucket_start"] > pd.Timestamp(since)]
    horizon = forecast_horizon_s()
    predictions = cached_query(
        dsn, queries.PREDICTIONS_PER_MINUTE, _params(symbol=symbol, since=since, horizon_s=horizon)
    ).frame
    st.plotly_chart(charts.candles_figure(symbol, candles, predictions, horizon), key="candles")
    st.caption(
        f"{len(candles)} one-minute candles up to {newest_bucket:%Y-%m-%d %H:%M} UTC"
        + ("" if not predictions.empty else " · no model predictions in this window")
    )
    st.subheader("Latest trades")
    trades = cached_query(dsn, queries.LATEST_TRADES, _params(symbol=symbol, limit=LATEST_TRADES)).frame
    if trades.empty:
        st.caption("No silver trades for this symbol.")
    else:
        st.dataframe(trades, hide_index=True, width="stretch")


def book_panel(dsn: str, symbol: str, window: timedelta) -> None:
    st.subheader("Order book")
    book = cached_query(dsn, queries.LATEST_BOOK, _params(symbol=symbol)).frame
    if book.empty:
        st.caption(f"No order book for {symbol}: the book streams capture the exchange's symbols (silver/order_book).")
        return
    newest = book.iloc[0]
    spread = float(newest["best_ask"]) - float(newest["best_bid"])
    mid = (float(newest["best_ask"]) + float(newest["best_bid"])) / 2
    cells = st.columns(3)
    cells[0].metric("Best bid / ask", f"{float(newest['best_bid']):,.6g} / {float(newest['best_ask']):,.6g}")
    cells[1].metric(
        "Spread", f"{spread / mid * 10_000:.2f} bps", help=f"{spread:.6g} at {newest['book_time']:%H:%M:%S} UTC"
    )
    seconds = cached_query(dsn, queries.BOOK_SECONDS, _params(symbol=symbol, window=window)).frame
    if not seconds.empty and seconds["depth_imbalance"].notna().any():
        cells[2].metric("Depth imbalance (10 bps)", _fmt(seconds["depth_imbalance"].dropna().iloc[-1], "{:+.2f}"))
    bids = analytics.depth_curve(newest["bid_prices"], newest["bid_quantities"])
    asks = analytics.depth_curve(newest["ask_prices"], newest["ask_quantities"])
    left, right = st.columns(2)
    left.plotly_chart(charts.depth_figure(symbol, bids, asks), key="depth")
    if not seconds.empty:
        right.plotly_chart(charts.spread_figure(seconds), key="spread")


def model_panel(settings: Settings, dsn: str, symbol: str) -> None:
    st.subheader("Model")
    version, note = champion_version(settings.mlflow_tracking_uri)
    horizon = forecast_horizon_s()
    outcomes = cached_query(
        dsn, queries.PREDICTION_OUTCOMES, _params(symbol=symbol, horizon_s=horizon, limit=PREDICTION_SAMPLE)
    ).frame
    errors = analytics.forecast_errors(outcomes)
    columns = st.columns(4)
    columns[0].metric("Champion", f"v{version}" if version else "none", help=note)
    if errors is None:
        st.caption(f"{note}. No scored predictions for {symbol} with an observed {horizon} s outcome yet.")
    else:
        columns[1].metric(f"MAE ({horizon} s ahead)", f"{errors.model_mae:.6g}")
        columns[2].metric("Naive MAE (no change)", f"{errors.naive_mae:.6g}")
        columns[3].metric("Skill vs naive", _fmt(errors.skill, "{:+.1%}"))
        st.caption(
            f"{note}. Last {errors.predictions} predictions for {symbol} "
            f"(model versions {', '.join(errors.model_versions) or 'n/a'})."
        )
    accuracy = cached_query(dsn, queries.MODEL_ACCURACY, _params(limit=48)).frame
    if not accuracy.empty:
        st.plotly_chart(charts.accuracy_figure(accuracy), key="accuracy")


def health_panel(settings: Settings, dsn: str, symbols: list[str]) -> None:
    st.subheader("Pipeline health")
    freshness = cached_query(dsn, queries.FRESHNESS).frame
    columns = st.columns(max(len(freshness), 1))
    if freshness.empty:
        columns[0].metric("Freshness", "n/a", help="gold.pipeline_freshness is empty or not built yet")
    for column, row in zip(columns, freshness.itertuples(), strict=False):
        column.metric(f"Freshness: {row.layer}", analytics.human_lag(row.lag_seconds), help="now - newest trade")
    key = f"{settings.kafka_bootstrap}|{settings.checkpoints}|{settings.lake_uri}"
    lags = kafka_lag(settings, key)
    ingested = cached_query(dsn, queries.INGESTED_SINCE, _params(symbols=symbols, window_s=INGEST_WINDOW_S)).frame
    rate = float(ingested["trades"].iloc[0]) / INGEST_WINDOW_S if not ingested.empty else None
    since = (datetime.now(UTC) - QUARANTINE_WINDOW).replace(second=0, microsecond=0)  # minute: cache-friendly
    quarantined = quarantined_recently(settings, key, since)
    silver = cached_query(dsn, queries.SILVER_PROCESSED_SINCE, _params(symbols=symbols, since=since)).frame
    silver_rows = int(silver["rows"].iloc[0]) if not silver.empty else 0
    q_rate = None if quarantined is None else analytics.quarantine_rate(quarantined, silver_rows)
    cells = st.columns(4)
    cells[0].metric("Kafka lag: bronze", lags.get("bronze", "n/a"))
    cells[1].metric("Kafka lag: silver", lags.get("silver", "n/a"))
    cells[2].metric("Ingestion rate (5 min)", _fmt(rate, "{:,.1f} trades/s"))
    cells[3].metric(
        "Quarantine rate (1 h)",
        "n/a" if q_rate is None else f"{q_rate:.2%}",
        help=f"{quarantined if quarantined is not None else '?'} quarantined / {silver_rows} silver rows",
    )
    book = cached_query(dsn, queries.BOOK_HEALTH).frame
    if not book.empty and book["max_lag_s"].notna().any():
        row = book.iloc[0]
        cells = st.columns(4)
        cells[0].metric("Book breaks (24 h)", f"{int(row['breaks'])}", help="depth diffs that broke the chain")
        cells[1].metric("Book resyncs (24 h)", f"{int(row['resyncs'])}", help="books seeded from a REST snapshot")
        cells[2].metric("Unusable snapshots (24 h)", f"{int(row['snapshot_gaps'])}")
        cells[3].metric(
            "Book lag (max, 24 h)", analytics.human_lag(row["max_lag_s"]), help="end of a second to its row"
        )


def main() -> None:
    st.set_page_config(page_title="Lakehouse command center", page_icon="📈", layout="wide")
    st.title("Market-data lakehouse")
    try:
        settings = load_settings()
        dsn = reader_dsn(settings)
    except (SettingsError, DashboardConfigError) as error:
        st.error(str(error))
        return
    found = cached_query(dsn, queries.SYMBOLS)
    symbols = found.frame["symbol"].tolist() if not found.empty else []
    with st.sidebar:
        symbol = st.selectbox("Symbol", symbols, index=0) if symbols else None
        window = WINDOWS[st.radio("Chart window", list(WINDOWS), index=1)]
        st.caption(f"Live panels refresh every {LIVE_REFRESH_S} s, health every {HEALTH_REFRESH_S} s.")
    if symbol is None:
        st.info(NO_GOLD)
        if found.missing:
            st.caption(f"PostgreSQL says: {found.missing}")
    else:
        st.fragment(run_every=LIVE_REFRESH_S)(live_panel)(dsn, symbol, window)
        st.fragment(run_every=LIVE_REFRESH_S)(book_panel)(dsn, symbol, window)
        st.fragment(run_every=LIVE_REFRESH_S)(model_panel)(settings, dsn, symbol)
    st.fragment(run_every=HEALTH_REFRESH_S)(health_panel)(settings, dsn, symbols or list(settings.symbols))
