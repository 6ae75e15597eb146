-- Forecast errors summed per symbol, model version and minute of the forecast: the additive pieces of
-- MAE, RMSE and directional accuracy, so hours roll up exactly. A forecast made at trade time t is
-- compared with the realised price H = forecast_horizon_s later: the last trade of the symbol in (t, t + H]
-- (ties by trade id, numerically), or the trade's own price when none happened; and only once the horizon
-- has been observed (the symbol's newest trade is at least t + H). Until then it counts as `pending`.
--
-- Incremental: recompute the minutes that rows processed since the last run can change (a trade at t is a
-- forecast of minute(t) and settles the forecasts of [t - H, t)) and the minutes still pending. The
-- realised price comes from two window passes, not a lookup per forecast: at 10M scored trades the
-- lookups took minutes, the windows take seconds.
{{
    config(
        materialized='incremental',
        unique_key=['symbol', 'model_version', 'minute_start'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[
            {'columns': ['symbol', 'model_version', 'minute_start'], 'unique': True},
            {'columns': ['model_version', 'minute_start']},
            {'columns': ['computed_at']},
        ],
        pre_hook=["set local work_mem = '256MB'"],
    )
}}

{% set horizon = "interval '" ~ var('forecast_horizon_s') ~ " seconds'" %}

with trades as not materialized (
    select * from {{ ref('stg_trades') }}
),

{% if is_incremental() %}
touched as (
    select new_rows.symbol, minute_start
    from (
        select symbol, trade_time from trades
        where processed_at > '{{ processed_watermark(this, 'computed_at') }}'::timestamptz
    ) as new_rows
    cross join lateral generate_series(
        date_trunc('minute', new_rows.trade_time - {{ horizon }}),
        date_trunc('minute', new_rows.trade_time),
        interval '1 minute'
    ) as minute_start
    union
    select symbol, minute_start from {{ this }} where pending > 0
),

scoped as (
    -- Each touched minute with the trades of the horizon after it; the minute is the window partition.
    -- OFFSET 0 keeps each LATERAL an index range scan (see candles_1m).
    select touched.minute_start as scope_minute, minute_trades.*
    from touched
    cross join lateral (
        select trades.symbol, trades.trade_id, trades.trade_time, trades.price, trades.predicted_price,
            trades.model_version
        from trades
        where trades.symbol = touched.symbol
            and trades.trade_time >= touched.minute_start
            and trades.trade_time < touched.minute_start + interval '1 minute' + {{ horizon }}
        offset 0
    ) as minute_trades
),
{% else %}
scoped as (
    select timestamptz '1970-01-01 00:00:00+00' as scope_minute, symbol, trade_id, trade_time, price,
        predicted_price, model_version
    from trades
),
{% endif %}

closing as (
    -- The price standing at the end of each distinct trade time (the last of equal-time trades).
    select
        scoped.*,
        last_value(price) over (
            partition by scope_minute, symbol, trade_time
            order by length(trade_id), trade_id
            rows between unbounded preceding and unbounded following
        ) as closing_price
    from scoped
),

realised as (
    -- The frame's last row is the newest trade time in [t, t + H]; equal-time rows share closing_price,
    -- so which of them comes last does not matter.
    select
        closing.*,
        last_value(trade_time) over horizon_window as horizon_time,
        last_value(closing_price) over horizon_window as horizon_close,
        -- From scratch the scope is all of history, so this is the symbol's newest trade.
        max(trade_time) over (partition by scope_minute, symbol) as scope_newest_time
    from closing
    window horizon_window as (
        partition by scope_minute, symbol order by trade_time
        range between current row and {{ horizon }} following
    )
),

{% if is_incremental() %}
newest as materialized (
    -- Index lookups per touched symbol, not a scan of all history (materialized: evaluated once).
    select
        symbols.symbol,
        (
            select t.trade_time from trades as t
            where t.symbol = symbols.symbol order by t.trade_time desc limit 1
        ) as newest_trade_time
    from (select distinct symbol from touched) as symbols
),
{% endif %}

settled as (
    select
        realised.symbol,
        realised.model_version,
        realised.trade_time,
        realised.price,
        realised.predicted_price,
        case when realised.horizon_time > realised.trade_time then realised.horizon_close else realised.price end
            as realised_price,
        {% if is_incremental() -%}
        realised.trade_time + {{ horizon }} <= newest.newest_trade_time as observed
        {%- else -%}
        realised.trade_time + {{ horizon }} <= realised.scope_newest_time as observed
        {%- endif %}
    from realised
    {% if is_incremental() %}inner join newest on newest.symbol = realised.symbol{% endif %}
    where realised.predicted_price is not null
        and realised.model_version is not null
        {% if is_incremental() -%}
        and date_trunc('minute', realised.trade_time) = realised.scope_minute
        {%- endif %}
),

forecasts as (
    select
        symbol,
        model_version,
        date_trunc('minute', trade_time) as minute_start,
        observed,
        predicted_price - realised_price::double precision as error,
        sign(predicted_price - price::double precision) as predicted_direction,
        sign(realised_price - price) as realised_direction
    from settled
),

final as (
    select
        symbol,
        model_version,
        minute_start,
        (count(*) filter (where observed))::bigint as predictions,
        (count(*) filter (where not observed))::bigint as pending,
        coalesce(sum(abs(error)) filter (where observed), 0) as sum_abs_error,
        coalesce(sum(error * error) filter (where observed), 0) as sum_squared_error,
        (count(*) filter (where observed and realised_direction <> 0))::bigint as directional_predictions,
        (count(*) filter (where observed and realised_direction <> 0 and predicted_direction = realised_direction))::bigint
            as direction_hits,
        now() as computed_at
    from forecasts
    group by symbol, model_version, minute_start
)

select * from final
