-- The book of each symbol at the end of each second, with the top of book spelled out (arrays are 1-based).
{% if source_exists('silver', 'order_book') %}
select
    source,
    symbol,
    book_time,
    last_update_id,
    updates,
    best_bid,
    best_ask,
    bid_quantities[1] as best_bid_quantity,
    ask_quantities[1] as best_ask_quantity,
    bid_depth_10bps,
    ask_depth_10bps,
    processed_at
from {{ source('silver', 'order_book') }}
where best_bid is not null and best_ask is not null
{% else %}
select
    null::text as source,
    null::text as symbol,
    null::timestamptz as book_time,
    null::bigint as last_update_id,
    null::integer as updates,
    null::numeric(38, 18) as best_bid,
    null::numeric(38, 18) as best_ask,
    null::numeric(38, 18) as best_bid_quantity,
    null::numeric(38, 18) as best_ask_quantity,
    null::numeric(38, 18) as bid_depth_10bps,
    null::numeric(38, 18) as ask_depth_10bps,
    null::timestamptz as processed_at
limit 0
{% endif %}
