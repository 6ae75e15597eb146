{# No row shares the same values in all of `columns` (dbt_utils-free: packages cannot be fetched offline). #}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
