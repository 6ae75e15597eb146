{# A candle's high bounds open, close and low; its low bounds open, close and high; volume is never negative. #}
{% test ohlc_consistent(model) %}
select *
from {{ model }}
where high < greatest(open, close, low)
   or low > least(open, close, high)
   or volume < 0
   or notional < 0
   or trade_count <= 0
   or vwap < low or vwap > high
{% endtest %}
