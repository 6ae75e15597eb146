-- Book analytics per symbol and second: spread, mid, microprice, depth within 10 bps of the mid on each
-- side, depth imbalance, and order-flow imbalance (Cont, Kukanov & Stoikov, 2014) against the previous
-- second's top of book. OFI is null where the previous second is missing (the first second, or the
-- seconds a sequence break left out): across a gap the change in the book is unknown.
-- Divisions are rounded to 12 decimal places so every reader gets the same digits.
with book as (
    select * from {{ ref('stg_order_book') }}
),

with_previous as (
    select
        book.*,
        lag(book_time) over w as previous_time,
        lag(best_bid) over w as previous_bid,
        lag(best_bid_quantity) over w as previous_bid_quantity,
        lag(best_ask) over w as previous_ask,
        lag(best_ask_quantity) over w as previous_ask_quantity
    from book
    window w as (partition by source, symbol order by book_time)
)

select
    source,
    symbol,
    book_time,
    date_trunc('minute', book_time) as minute_start,
    best_bid,
    best_ask,
    best_bid_quantity,
    best_ask_quantity,
    (best_bid + best_ask) / 2 as mid,
    best_ask - best_bid as spread,
    round((best_ask - best_bid) / ((best_bid + best_ask) / 2) * 10000, 12) as spread_bps,
    round(
        (best_bid * best_ask_quantity + best_ask * best_bid_quantity) / (best_bid_quantity + best_ask_quantity), 12
    ) as microprice,
    bid_depth_10bps,
    ask_depth_10bps,
    round((bid_depth_10bps - ask_depth_10bps) / nullif(bid_depth_10bps + ask_depth_10bps, 0), 12) as depth_imbalance,
    case when previous_time = book_time - interval '1 second' then
        (case when best_bid >= previous_bid then best_bid_quantity else 0 end)
        - (case when best_bid <= previous_bid then previous_bid_quantity else 0 end)
        - (case when best_ask <= previous_ask then best_ask_quantity else 0 end)
        + (case when best_ask >= previous_ask then previous_ask_quantity else 0 end)
    end as order_flow_imbalance,
    last_update_id,
    updates,
    processed_at
from with_previous
