-- The health of each symbol's book per hour: sequence breaks, resyncs and unusable snapshots (from the
-- rebuild's events), the seconds published, and the lag from the end of a second to its row being
-- processed (how fresh the published book is).
with events as (
    select
        source,
        symbol,
        date_trunc('hour', coalesce(event_time, processed_at)) as hour_start,
        count(*) filter (where event = 'break')::bigint as breaks,
        count(*) filter (where event = 'resync')::bigint as resyncs,
        count(*) filter (where event = 'snapshot_gap')::bigint as snapshot_gaps
    from {{ ref('stg_book_events') }}
    group by 1, 2, 3
),

published as (
    select
        source,
        symbol,
        date_trunc('hour', book_time) as hour_start,
        count(*)::bigint as seconds_published,
        round(avg(extract(epoch from processed_at - (book_time + interval '1 second'))), 3) as avg_lag_s,
        round(max(extract(epoch from processed_at - (book_time + interval '1 second'))), 3) as max_lag_s
    from {{ ref('stg_order_book') }}
    group by 1, 2, 3
)

select
    coalesce(published.source, events.source) as source,
    coalesce(published.symbol, events.symbol) as symbol,
    coalesce(published.hour_start, events.hour_start) as hour_start,
    coalesce(published.seconds_published, 0) as seconds_published,
    coalesce(events.breaks, 0) as breaks,
    coalesce(events.resyncs, 0) as resyncs,
    coalesce(events.snapshot_gaps, 0) as snapshot_gaps,
    published.avg_lag_s,
    published.max_lag_s
from published
full outer join events
    on published.source = events.source
    and published.symbol = events.symbol
    and published.hour_start = events.hour_start
