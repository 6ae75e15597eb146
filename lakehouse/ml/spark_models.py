"""Log and load Spark MLlib models through MLflow, staged where every Spark executor can see them.

`mlflow.spark` writes a model with Spark (`PipelineModel.save`) into `dfs_tmpdir` and copies it to the
driver, and loads one by copying it into `dfs_tmpdir` for `PipelineModel.load`. Its default, the
driver's local /tmp/mlflow, is invisible to executors in another container (compose's Spark
workers), so the staging folder is a setting derived from the lake: `<lake>/_staging/mlflow`
(s3a:// in compose, the local lake folder in local mode), LAKEHOUSE_MLFLOW_DFS_TMPDIR to move it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.models.model import ModelInfo
    from pyspark.ml import PipelineModel

    from lakehouse.settings import Settings


def _stage_on(staging_uri: str) -> None:
    """Make mlflow.spark copy models to and from the staging folder's file system.

    mlflow.spark copies with Hadoop's *default* file system (`fs.defaultFS`, file:/// here), which
    cannot open an s3a:// staging folder ("Wrong FS") and treats a local path as already visible to
    every executor. Pointing its cached file system at the staging folder's fixes both.
    """
    from mlflow.spark import _HadoopFileSystem
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is None:
        raise RuntimeError("mlflow.spark needs an active SparkSession to stage models")
    jvm = context._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(staging_uri)
    _HadoopFileSystem._filesystem = path.getFileSystem(context._jsc.hadoopConfiguration())


def log_spark_model(model: PipelineModel, settings: Settings, **kwargs: Any) -> ModelInfo:
    """`mlflow.spark.log_model`, staged under settings.mlflow_staging_uri."""
    import mlflow.spark

    staging = settings.mlflow_staging_uri
    _stage_on(staging)
    return mlflow.spark.log_model(model, dfs_tmpdir=staging, **kwargs)


def load_spark_model(model_uri: str, settings: Settings) -> PipelineModel:
    """`mlflow.spark.load_model`, staged under settings.mlflow_staging_uri."""
    import mlflow.spark

    staging = settings.mlflow_staging_uri
    _stage_on(staging)
    return mlflow.spark.load_model(model_uri, dfs_tmpdir=staging)
