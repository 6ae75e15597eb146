-- Typed trades with the columns the marts use; one row per trade identity.
with source as (
    select * from {{ source('silver', 'trades') }}
),

final as (
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
    from source
)

select * from final
