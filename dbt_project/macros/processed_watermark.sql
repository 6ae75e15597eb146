{#
    The newest `column` value already folded into `relation`, minus the reprocessing overlap, as a literal
    timestamp: incremental models filter on it so only rows processed since the last run are read.
#}
{% macro processed_watermark(relation, column='last_processed_at') -%}
    {%- if execute -%}
        {%- set query -%}
            select coalesce(max({{ column }}), timestamptz '1970-01-01 00:00:00+00')
                - interval '{{ var("reprocess_overlap_seconds") }} seconds'
            from {{ relation }}
        {%- endset -%}
        {{- run_query(query).columns[0].values()[0] -}}
    {%- else -%}
        1970-01-01 00:00:00+00
    {%- endif -%}
{%- endmacro %}
