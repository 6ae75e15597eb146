-- Per symbol and UTC day: open/close return, realized volatility of 1-minute log returns, volume.
with minutes as (
    select * from {{ ref('candles_1m') }}
),

with_returns as (
    select
        symbol,
        bucket_start,
        (bucket_start at time zone 'UTC')::date as trade_date,
        open,
        close,
        high,
        low,
        volume,
        notional,
        trade_count,
        ln(close / lag(close) over (partition by symbol, (bucket_start at time zone 'UTC')::date order by bucket_start))
            as log_return_1m
    from minutes
),

daily as (
    select
        symbol,
        trade_date,
        (array_agg(open order by bucket_start))[1] as open,
        (array_agg(close order by bucket_start desc))[1] as close,
        max(high) as high,
        min(low) as low,
        sum(volume) as volume,
        sum(notional) as notional,
        sum(trade_count)::bigint as trade_count,
        count(*)::bigint as active_minutes,
        coalesce(sqrt(sum(log_return_1m * log_return_1m)), 0) as realized_volatility
    from with_returns
    group by symbol, trade_date
),

final as (
    select
        symbol,
        trade_date,
        open,
        close,
        high,
        low,
        close / open - 1 as daily_return,
        realized_volatility,
        volume,
        notional,
        notional / nullif(volume, 0) as vwap,
        trade_count,
        active_minutes
    from daily
)

select * from final
