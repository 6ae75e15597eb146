"""
### lake_maintenance

Daily: Delta OPTIMIZE (compacts the many small files the streams write) and VACUUM with a 7-day
retention (never less: readers and restarting streams may still need older files) on bronze,
silver and quarantine.
"""

from airflow.sdk import dag, task

from lakehouse.orchestration.dag_defaults import default_args, from_next_tick


@dag(
    dag_id="lake_maintenance",
    schedule=from_next_tick("0 0 * * *"),  # @daily, from the next tick on
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["lake", "delta"],
    doc_md=__doc__,
)
def lake_maintenance() -> None:
    @task
    def optimize_and_vacuum() -> dict:
        from lakehouse.orchestration.tasks import maintain_lake

        return maintain_lake()

    optimize_and_vacuum()


dag = lake_maintenance()
