-- Forecast accuracy per model version and hour: each prediction made at a trade is compared with the
-- realised price `forecast_horizon_s` later (the last trade of the symbol in (t, t + H], or the trade's
-- own price when none happened), only once that horizon has been fully observed.
with predicted as (
    select symbol, trade_id, trade_time, price, predicted_price, model_version
    from {{ ref('stg_trades') }}
    where predicted_price is not null and model_version is not null
),

newest as (
    -- Index lookups per predicted symbol, not a scan of all history.
    select
        symbols.symbol,
        (select max(t.trade_time) from {{ ref('stg_trades') }} as t where t.symbol = symbols.symbol)
            as newest_trade_time
    from (select distinct symbol from predicted) as symbols
),

realised as (
    select
        predicted.*,
        coalesce(outcome.price, predicted.price) as realised_price
    from predicted
    inner join newest on newest.symbol = predicted.symbol
    left join lateral (
        select later.price
        from {{ ref('stg_trades') }} as later
        where later.symbol = predicted.symbol
            and later.trade_time > predicted.trade_time
            and later.trade_time <= predicted.trade_time + interval '{{ var("forecast_horizon_s") }} seconds'
        order by later.trade_time desc, length(later.trade_id) desc, later.trade_id desc
        limit 1
    ) as outcome on true
    where predicted.trade_time + interval '{{ var("forecast_horizon_s") }} seconds' <= newest.newest_trade_time
),

errors as (
    select
        model_version,
        date_trunc('hour', trade_time) as hour_start,
        (predicted_price - realised_price::double precision) as error,
        sign(predicted_price - price::double precision) as predicted_direction,
        sign(realised_price - price) as realised_direction
    from realised
),

final as (
    select
        model_version,
        hour_start,
        count(*)::bigint as predictions,
        avg(abs(error)) as mae,
        sqrt(avg(error * error)) as rmse,
        avg(case when realised_direction <> 0 then (predicted_direction = realised_direction)::int end)
            as directional_accuracy
    from errors
    group by model_version, hour_start
)

select * from final
