-- 1-minute OHLCV candles per symbol. Open and close by trade time, ties broken by trade id
-- (numerically for numeric ids: shorter id first, then lexical).
-- Incremental: recompute every (symbol, minute) touched by trades processed since the last run, so a
-- late trade (old trade_time, new processed_at) still lands in its candle; delete+insert on the key.
{{
    config(
        materialized='incremental',
        unique_key=['symbol', 'bucket_start'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[
            {'columns': ['symbol', 'bucket_start'], 'unique': True},
            {'columns': ['last_processed_at']},
        ],
    )
}}

-- NOT MATERIALIZED: referenced twice when incremental, and a materialized CTE would copy all of history.
with trades as not materialized (
    select * from {{ ref('stg_trades') }}
),

{% if is_incremental() %}
touched as (
    -- The watermark is read first and inlined as a constant, so the planner can use the BRIN index on
    -- processed_at and knows how few rows are new (a subquery here made it scan all of history).
    select distinct trades.symbol, trades.minute_start
    from trades
    where trades.processed_at > '{{ processed_watermark(this) }}'::timestamptz
),

in_scope as (
    -- One index range scan of (symbol, trade_time) per touched minute. A plain join lets the planner
    -- hash-join against a scan of all history (it cannot estimate parameterised one-minute ranges);
    -- OFFSET 0 keeps the LATERAL subquery from being flattened back into such a join.
    select minute_trades.*
    from touched
    cross join lateral (
        select trades.*
        from trades
        where trades.symbol = touched.symbol
            and trades.trade_time >= touched.minute_start
            and trades.trade_time < touched.minute_start + interval '1 minute'
        offset 0
    ) as minute_trades
),
{% else %}
in_scope as (
    select * from trades
),
{% endif %}

ordered as (
    select
        symbol,
        minute_start as bucket_start,
        price,
        quantity,
        notional,
        trade_time,
        processed_at,
        first_value(price) over bucket as open_price,
        last_value(price) over (bucket rows between unbounded preceding and unbounded following) as close_price
    from in_scope
    window bucket as (partition by symbol, minute_start order by trade_time, length(trade_id), trade_id)
),

final as (
    select
        symbol,
        bucket_start,
        max(open_price) as open,
        max(price) as high,
        min(price) as low,
        max(close_price) as close,
        sum(quantity) as volume,
        sum(notional) as notional,
        count(*)::bigint as trade_count,
        sum(notional) / nullif(sum(quantity), 0) as vwap,
        max(trade_time) as last_trade_time,
        max(processed_at) as last_processed_at
    from ordered
    group by symbol, bucket_start
)

select * from final
