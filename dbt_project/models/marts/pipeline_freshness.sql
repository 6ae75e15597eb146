-- The newest trade time per layer and symbol, and how far behind now each is.
-- Per-symbol maxima are index lookups (silver.trades (symbol, trade_time), and the partial index on
-- predicted rows), not scans: this runs every few minutes over the whole history.
with symbols as (
    select distinct symbol from {{ ref('candles_1h') }}
),

silver as (
    select
        'silver' as layer,
        symbols.symbol,
        (select max(t.trade_time) from {{ ref('stg_trades') }} as t where t.symbol = symbols.symbol)
            as newest_trade_time
    from symbols
),

predictions as (
    select
        'predictions' as layer,
        symbols.symbol,
        (
            select max(t.trade_time) from {{ ref('stg_trades') }} as t
            where t.symbol = symbols.symbol and t.predicted_price is not null
        ) as newest_trade_time
    from symbols
),

gold as (
    select 'gold_candles_1m' as layer, symbol, max(last_trade_time) as newest_trade_time
    from {{ ref('candles_1m') }}
    group by symbol
),

layers as (
    select * from silver
    union all
    select * from predictions where newest_trade_time is not null
    union all
    select * from gold
),

final as (
    select
        layer,
        symbol,
        newest_trade_time,
        extract(epoch from (now() - newest_trade_time))::double precision as lag_seconds,
        now() as checked_at
    from layers
)

select * from final
