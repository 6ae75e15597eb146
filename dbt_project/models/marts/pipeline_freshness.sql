-- The newest trade time per layer and symbol, and how far behind now each is.
with silver as (
    select 'silver' as layer, symbol, max(trade_time) as newest_trade_time, max(processed_at) as newest_processed_at
    from {{ ref('stg_trades') }}
    group by symbol
),

predictions as (
    select 'predictions' as layer, symbol, max(trade_time) as newest_trade_time, max(processed_at) as newest_processed_at
    from {{ ref('stg_trades') }}
    where predicted_price is not null
    group by symbol
),

gold as (
    select
        'gold_candles_1m' as layer,
        symbol,
        max(last_trade_time) as newest_trade_time,
        max(last_processed_at) as newest_processed_at
    from {{ ref('candles_1m') }}
    group by symbol
),

layers as (
    select * from silver
    union all
    select * from predictions
    union all
    select * from gold
),

final as (
    select
        layer,
        symbol,
        newest_trade_time,
        newest_processed_at,
        extract(epoch from (now() - newest_trade_time))::double precision as lag_seconds,
        now() as checked_at
    from layers
)

select * from final
