"""OPTIMIZE compacts the small files streaming leaves; VACUUM keeps a safe retention."""

import pytest

from lakehouse.orchestration.tasks import maintain_lake


def test_optimize_compacts_and_keeps_every_row(spark, settings) -> None:
    uri = settings.table_uri("silver", "trades")
    for batch in range(6):  # six micro-batches, six small files
        spark.range(batch * 100, (batch + 1) * 100).repartition(1).write.format("delta").mode("append").save(uri)
    report = maintain_lake(settings, spark=spark)
    assert report["silver.trades"]["files_removed"] == 6
    assert report["silver.trades"]["files_added"] == 1
    assert report["silver.trades"]["vacuum"] == "lite"  # from the log: no listing of the table's folder
    assert spark.read.format("delta").load(uri).count() == 600
    assert "bronze.trades" not in report  # tables that do not exist yet are skipped, not errors
    assert not spark.sparkContext._jsc.sc().isStopped()  # the caller's session stays usable


def test_vacuum_retention_below_a_week_is_refused(settings) -> None:
    with pytest.raises(ValueError, match="168"):
        maintain_lake(settings, retention_hours=1)
