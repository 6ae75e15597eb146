-- Breaks, resyncs and snapshot gaps of the book rebuild, one row per event.
{% if source_exists('silver', 'book_events') %}
select source, symbol, event, event_time, update_id, detail, processed_at
from {{ source('silver', 'book_events') }}
{% else %}
select
    null::text as source,
    null::text as symbol,
    null::text as event,
    null::timestamptz as event_time,
    null::bigint as update_id,
    null::text as detail,
    null::timestamptz as processed_at
limit 0
{% endif %}
