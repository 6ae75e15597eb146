{#- Whether a source table exists yet. The book mirror appears only once the silver job runs with the
    book streams on; models over it read as empty until then instead of failing every dbt build.
    While parsing (execute is false) it says yes, so the source is recorded in the lineage. -#}
{% macro source_exists(source_name, table_name) %}
    {%- if not execute -%}{{ return(true) }}{%- endif -%}
    {%- set src = source(source_name, table_name) -%}
    {%- set relation = adapter.get_relation(database=src.database, schema=src.schema, identifier=src.identifier) -%}
    {{ return(relation is not none) }}
{% endmacro %}
