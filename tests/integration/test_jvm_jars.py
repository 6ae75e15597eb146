"""The pinned jars fit the pyspark wheel (ARCHITECTURE.md: versions that fit together)."""

import re
from pathlib import Path

import pyspark

from lakehouse.local.jars import ensure_jars, jars_ready, spark_jars

PYSPARK_JARS = Path(pyspark.__file__).parent / "jars"


def _version(folder: Path, artifact: str) -> str:
    (jar,) = [j for j in folder.glob(f"{artifact}-*.jar") if re.fullmatch(rf"{artifact}-\d[\w.]*\.jar", j.name)]
    return jar.name.removeprefix(artifact + "-").removesuffix(".jar")


def test_jars_are_resolved_once_and_then_offline() -> None:
    ensure_jars()
    assert jars_ready()  # a second run is a fingerprint check, no mvn


def test_spark_gets_delta_kafka_and_s3a_matching_pyspark() -> None:
    names = {jar.name for jar in spark_jars()}
    spark_version = pyspark.__version__
    assert f"spark-sql-kafka-0-10_2.13-{spark_version}.jar" in names
    assert any(name.startswith("delta-spark_4.2_2.13-") for name in names)
    hadoop = _version(PYSPARK_JARS, "hadoop-client-api")
    assert f"hadoop-aws-{hadoop}.jar" in names
    assert any(name.startswith("bundle-2.") for name in names), "hadoop-aws needs the AWS SDK v2 bundle"
    assert not any(name.startswith("aws-java-sdk") for name in names), "AWS SDK v1 must never be on the classpath"


def test_no_jar_shadows_one_that_pyspark_ships() -> None:
    shipped = {re.sub(r"-\d[\w.+-]*\.jar$", "", j.name) for j in PYSPARK_JARS.glob("*.jar")}
    for jar in spark_jars():
        assert re.sub(r"-\d[\w.+-]*\.jar$", "", jar.name) not in shipped, jar.name


def test_setup_built_the_class_archive_and_spark_maps_it(spark) -> None:
    from lakehouse.spark import class_archive

    archive = class_archive.ensure_archive()  # built by `lakehouse jars` in setup: a lookup here
    assert archive is not None and archive.stat().st_size > 10 << 20
    arguments = list(
        spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
    )
    assert f"-XX:SharedArchiveFile={archive}" in arguments
