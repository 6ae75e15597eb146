"""mlflow.spark stages models under the lake (dfs_tmpdir), never in the driver's /tmp/mlflow.

On a standalone cluster the executors run in other containers: a model staged in the driver's /tmp
cannot be written or read by them. Local mode stages under the lake folder, compose under s3a://.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lakehouse.ml import registry
from lakehouse.ml.spark_models import load_spark_model, log_spark_model
from lakehouse.settings import Settings

MLFLOW_DEFAULT_DFS_TMP = Path("/tmp/mlflow")


def _entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def test_the_staging_folder_is_derived_from_the_lake() -> None:
    assert Settings(lake_uri="s3a://lakehouse/lake").mlflow_staging_uri == "s3a://lakehouse/lake/_staging/mlflow"
    moved = Settings(lake_uri="s3a://lakehouse/lake", mlflow_dfs_tmpdir="s3a://scratch/mlflow/")
    assert moved.mlflow_staging_uri == "s3a://scratch/mlflow"


def test_a_model_logs_and_loads_staged_under_the_lake_folder(
    spark: Any, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    import mlflow.spark
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import LinearRegression

    ml = settings.model_copy(
        update={
            "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "mlflow_artifact_root": (tmp_path / "artifacts").as_uri(),
        }
    )
    staging = ml.mlflow_staging_uri
    assert staging == f"{ml.lake_uri}/_staging/mlflow" and staging.startswith("file://")
    staged: list[str] = []
    original = mlflow.spark.generate_tmp_dfs_path

    def recording(base: str) -> str:
        path = original(base)
        staged.append(path)
        return path

    monkeypatch.setattr(mlflow.spark, "generate_tmp_dfs_path", recording)
    before = _entries(MLFLOW_DEFAULT_DFS_TMP)

    frame = spark.createDataFrame([(float(x), 2.0 * x + 1.0) for x in range(20)], ["x", "label"])
    model = Pipeline(stages=[VectorAssembler(inputCols=["x"], outputCol="features"), LinearRegression(maxIter=5)]).fit(
        frame
    )
    registry.configure_mlflow(ml)
    with mlflow.start_run() as run:
        log_spark_model(model, ml, artifact_path="model")
    loaded = load_spark_model(f"runs:/{run.info.run_id}/model", ml)

    prediction = loaded.transform(frame.limit(1)).select("prediction").first()
    assert prediction is not None and abs(prediction[0] - 1.0) < 1e-3
    assert len(staged) == 2  # one for log_model's save, one for load_model
    assert all(path.startswith(staging + "/") for path in staged), staged
    assert _entries(MLFLOW_DEFAULT_DFS_TMP) == before  # nothing of the model under /tmp/mlflow
    # log_model moves its staged copy into the artifact store: nothing is left behind in the lake.
    staging_folder = Path(staging.removeprefix("file://"))
    assert not staging_folder.exists() or list(staging_folder.iterdir()) == []
