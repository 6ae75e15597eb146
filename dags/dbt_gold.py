"""
### dbt_gold

Builds the gold layer in PostgreSQL every 5 minutes: `dbt build` (models, data tests, unit tests)
over the silver mirror. Incremental candles pick up late trades by their processing time. Then
`dbt source freshness`: the run fails when silver received no rows for 30 minutes (a warning after 5),
after gold was built from what there is. A failure posts to `LAKEHOUSE_ALERT_WEBHOOK_URL`.
"""

from airflow.sdk import dag, task

from lakehouse.orchestration.dag_defaults import START_DATE, default_args


@dag(
    dag_id="dbt_gold",
    schedule="*/5 * * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["gold", "dbt"],
    doc_md=__doc__,
)
def dbt_gold() -> None:
    @task
    def dbt_build() -> dict:
        from lakehouse.orchestration.tasks import dbt_build

        return dbt_build()

    @task
    def source_freshness() -> dict:
        from lakehouse.orchestration.tasks import silver_freshness

        return silver_freshness()

    dbt_build() >> source_freshness()


dag = dbt_gold()
