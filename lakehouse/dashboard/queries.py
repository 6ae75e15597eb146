"""The dashboard's SQL, all read-only and parameterised (psycopg `%(name)s` placeholders).

Time windows are anchored on the newest candle of the symbol, not on now(): a replayed or paused
pipeline still shows its last day instead of an empty chart.
"""

from __future__ import annotations

# Most active first (trades over the newest day of candles): the page opens on the busiest market.
SYMBOLS = """
with newest as (select max(bucket_start) as at from gold.candles_1m)
select candles.symbol, sum(candles.trade_count) filter (where candles.bucket_start > newest.at - interval '1 day')
    as trades_last_day
from gold.candles_1m as candles cross join newest
group by candles.symbol
order by trades_last_day desc nulls last, candles.symbol
"""

NEWEST_BUCKET = "select max(bucket_start) as newest from gold.candles_1m where symbol = %(symbol)s"

CANDLES = """
select bucket_start, open, high, low, close, volume, notional, trade_count, vwap
from gold.candles_1m
where symbol = %(symbol)s and bucket_start > %(since)s
order by bucket_start
"""

# Predictions are made at a trade for the price `horizon` seconds later: plotted at the minute they
# forecast, as the mean with a min..max band over the minute's predictions.
PREDICTIONS_PER_MINUTE = """
select
    date_trunc('minute', trade_time + make_interval(secs => %(horizon_s)s)) as bucket_start,
    avg(predicted_price) as predicted,
    min(predicted_price) as predicted_low,
    max(predicted_price) as predicted_high,
    count(*) as predictions
from silver.trades
where symbol = %(symbol)s and trade_time > %(since)s and predicted_price is not null
group by 1
order by 1
"""

LATEST_TRADES = """
select trade_time, price, quantity, side, source, trade_id, predicted_price, model_version
from silver.trades
where symbol = %(symbol)s
order by trade_time desc
limit %(limit)s
"""

# Each recent prediction next to the realised price `horizon` seconds later (the last trade in
# (t, t + horizon], or the trade's own price when none happened: the rule gold.model_accuracy_hourly
# uses), only where the horizon has been observed. The naive forecast is the trade's own price.
PREDICTION_OUTCOMES = """
with newest as (
    select max(trade_time) as newest_trade_time from silver.trades where symbol = %(symbol)s
),
recent as (
    select trade_id, trade_time, price, predicted_price, model_version
    from silver.trades, newest
    where symbol = %(symbol)s
        and predicted_price is not null
        and trade_time + make_interval(secs => %(horizon_s)s) <= newest.newest_trade_time
    order by trade_time desc
    limit %(limit)s
)
select
    recent.trade_time,
    recent.model_version,
    recent.price::double precision as price,
    recent.predicted_price,
    coalesce(outcome.price, recent.price)::double precision as realised_price
from recent
left join lateral (
    select later.price
    from silver.trades as later
    where later.symbol = %(symbol)s
        and later.trade_time > recent.trade_time
        and later.trade_time <= recent.trade_time + make_interval(secs => %(horizon_s)s)
    order by later.trade_time desc, length(later.trade_id) desc, later.trade_id desc
    limit 1
) as outcome on true
order by recent.trade_time
"""

MODEL_ACCURACY = """
select model_version, hour_start, predictions, mae, rmse, directional_accuracy
from gold.model_accuracy_hourly
order by hour_start desc, model_version
limit %(limit)s
"""

# Lag measured now (the table's own lag_seconds is as of the last dbt run), worst symbol per layer.
FRESHNESS = """
select
    layer,
    max(extract(epoch from (now() - newest_trade_time)))::double precision as lag_seconds,
    max(newest_trade_time) as newest_trade_time,
    max(checked_at) as checked_at,
    count(*) as symbols
from gold.pipeline_freshness
group by layer
order by layer
"""

# `symbol = any(...)` keeps this on the (symbol, trade_time) index of silver.trades.
INGESTED_SINCE = """
select count(*) as trades, min(trade_time) as first_trade, max(trade_time) as last_trade
from silver.trades
where symbol = any(%(symbols)s) and trade_time > now() - make_interval(secs => %(window_s)s)
"""

SILVER_PROCESSED_SINCE = """
select count(*) as rows
from silver.trades
where symbol = any(%(symbols)s) and processed_at > %(since)s and trade_time > %(since)s - interval '1 day'
"""

# The symbol's newest published book (silver's top 20 levels a side, best first).
LATEST_BOOK = """
select book_time, best_bid, best_ask, bid_prices, bid_quantities, ask_prices, ask_quantities
from silver.order_book
where symbol = %(symbol)s
order by book_time desc
limit 1
"""

# The spread and microprice per second, over the window ending at the symbol's newest second.
BOOK_SECONDS = """
with newest as (select max(book_time) as at from gold.book_1s where symbol = %(symbol)s)
select book_time, spread_bps, mid, microprice, depth_imbalance
from gold.book_1s, newest
where symbol = %(symbol)s and book_time > newest.at - %(window)s
order by book_time
"""

# The book rebuild's health over the last day, per symbol: beside the trades' freshness and lag.
BOOK_HEALTH = """
select
    coalesce(sum(breaks), 0) as breaks,
    coalesce(sum(resyncs), 0) as resyncs,
    coalesce(sum(snapshot_gaps), 0) as snapshot_gaps,
    max(max_lag_s) as max_lag_s
from gold.book_sequence_health
where hour_start > now() - interval '24 hours'
"""
