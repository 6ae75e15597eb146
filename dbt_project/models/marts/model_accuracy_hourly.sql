-- Forecast accuracy per model version and hour: MAE, RMSE and directional accuracy of every forecast whose
-- horizon has been observed, rolled up exactly from the per-minute error sums (see int_forecast_errors_1m).
-- Incremental: re-roll the hours whose minutes were recomputed since the last run.
{{
    config(
        materialized='incremental',
        unique_key=['model_version', 'hour_start'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[{'columns': ['model_version', 'hour_start'], 'unique': True}],
    )
}}

with minutes as not materialized (
    select * from {{ ref('int_forecast_errors_1m') }}
),

{% if is_incremental() %}
touched as (
    select distinct minutes.model_version, date_trunc('hour', minutes.minute_start) as hour_start
    from minutes
    where minutes.computed_at > '{{ processed_watermark(this, 'last_computed_at') }}'::timestamptz
),

in_scope as (
    select minutes.*
    from touched
    inner join minutes
        on minutes.model_version = touched.model_version
        and minutes.minute_start >= touched.hour_start
        and minutes.minute_start < touched.hour_start + interval '1 hour'
),
{% else %}
in_scope as (
    select * from minutes
),
{% endif %}

final as (
    select
        model_version,
        date_trunc('hour', minute_start) as hour_start,
        sum(predictions)::bigint as predictions,
        sum(sum_abs_error) / sum(predictions) as mae,
        sqrt(sum(sum_squared_error) / sum(predictions)) as rmse,
        sum(direction_hits)::double precision / nullif(sum(directional_predictions), 0) as directional_accuracy,
        max(computed_at) as last_computed_at
    from in_scope
    group by model_version, date_trunc('hour', minute_start)
    having sum(predictions) > 0
)

select * from final
