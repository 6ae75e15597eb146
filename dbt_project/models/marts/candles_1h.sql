-- 1-hour OHLCV candles per symbol, rolled up from the 1-minute candles (same open/close rule).
{{
    config(
        materialized='incremental',
        unique_key=['symbol', 'bucket_start'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[{'columns': ['symbol', 'bucket_start'], 'unique': True}],
    )
}}

with minutes as not materialized (
    select * from {{ ref('candles_1m') }}
),

{% if is_incremental() %}
touched as (
    select distinct minutes.symbol, date_trunc('hour', minutes.bucket_start) as hour_start
    from minutes
    where minutes.last_processed_at > '{{ processed_watermark(this) }}'::timestamptz
),

in_scope as (
    select minutes.*
    from touched
    inner join minutes
        on minutes.symbol = touched.symbol
        and minutes.bucket_start >= touched.hour_start
        and minutes.bucket_start < touched.hour_start + interval '1 hour'
),
{% else %}
in_scope as (
    select * from minutes
),
{% endif %}

ordered as (
    select
        *,
        date_trunc('hour', bucket_start) as hour_start,
        first_value(open) over hour_window as hour_open,
        last_value(close) over (hour_window rows between unbounded preceding and unbounded following) as hour_close
    from in_scope
    window hour_window as (partition by symbol, date_trunc('hour', bucket_start) order by bucket_start)
),

final as (
    select
        symbol,
        hour_start as bucket_start,
        max(hour_open) as open,
        max(high) as high,
        min(low) as low,
        max(hour_close) as close,
        sum(volume) as volume,
        sum(notional) as notional,
        sum(trade_count)::bigint as trade_count,
        sum(notional) / nullif(sum(volume), 0) as vwap,
        max(last_processed_at) as last_processed_at
    from ordered
    group by symbol, hour_start
)

select * from final
