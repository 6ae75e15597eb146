-- Book analytics per symbol and minute, from the per-second book: averages of the spread, microprice,
-- depth and depth imbalance, the mid at the minute's first and last second, and the summed order-flow
-- imbalance.
select
    source,
    symbol,
    minute_start as bucket_start,
    count(*)::bigint as seconds,
    round(avg(spread), 12) as avg_spread,
    round(avg(spread_bps), 12) as avg_spread_bps,
    (array_agg(mid order by book_time))[1] as open_mid,
    (array_agg(mid order by book_time desc))[1] as close_mid,
    round(avg(microprice), 12) as avg_microprice,
    round(avg(bid_depth_10bps), 12) as avg_bid_depth_10bps,
    round(avg(ask_depth_10bps), 12) as avg_ask_depth_10bps,
    round(avg(depth_imbalance), 12) as avg_depth_imbalance,
    sum(order_flow_imbalance) as order_flow_imbalance,
    max(processed_at) as last_processed_at
from {{ ref('book_1s') }}
group by source, symbol, minute_start
