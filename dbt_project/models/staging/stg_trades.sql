-- Typed trades with the columns the marts use; one row per trade identity.
-- A single flat SELECT on purpose: PostgreSQL cannot pull a view that has WITH clauses up into the query
-- that uses it, so a CTE here would hide silver.trades' indexes from every mart (per-symbol newest-trade
-- lookups and the incremental candles turned into full scans of history).
select
    source,
    symbol,
    trade_id,
    price,
    quantity,
    notional,
    side,
    trade_time,
    date_trunc('minute', trade_time) as minute_start,
    predicted_price,
    model_version,
    processed_at
from {{ source('silver', 'trades') }}
