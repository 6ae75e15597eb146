"""
### retrain_model

Weekly: train `price_forecaster` on silver history, evaluate it against the naive baseline and the
current champion on the same validation window, and move the `champion` alias only when it wins
(the running silver stream picks the new champion up without a restart).
"""

from datetime import timedelta

from airflow.sdk import dag, task

from lakehouse.orchestration.dag_defaults import default_args, from_next_tick


@dag(
    dag_id="retrain_model",
    schedule=from_next_tick("0 0 * * 0"),  # @weekly, from the next tick on
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    dagrun_timeout=timedelta(hours=2),
    tags=["ml", "mlflow"],
    doc_md=__doc__,
)
def retrain_model() -> None:
    @task
    def train_evaluate_promote() -> dict:
        from lakehouse.orchestration.tasks import retrain

        return retrain()

    train_evaluate_promote()


dag = retrain_model()
