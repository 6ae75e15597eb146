from lakehouse.settings import Settings
from lakehouse.spark.session import spark_conf


def test_local_conf_enables_delta_and_keeps_shuffles_small() -> None:
    conf = spark_conf(Settings(lake_uri="/tmp/lake", spark_shuffle_partitions=2), "job")
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.sql.catalog.spark_catalog"].endswith("DeltaCatalog")
    assert conf["spark.sql.shuffle.partitions"] == "2"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert not any(key.startswith("spark.hadoop.fs.s3a") for key in conf)
    assert "spark.jars.packages" not in conf  # nothing is resolved at start


def test_s3a_lake_points_s3a_at_minio_with_path_style() -> None:
    settings = Settings(
        lake_uri="s3a://lakehouse/lake", s3_endpoint="http://minio:9000", s3_access_key="ak", s3_secret_key="sk"
    )
    conf = spark_conf(settings, "job")
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://minio:9000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["spark.hadoop.fs.s3a.access.key"] == "ak"
    assert conf["spark.hadoop.fs.s3a.secret.key"] == "sk"
    # Commits are conditional PUTs, safe with several drivers (not S3SingleDriverLogStore's JVM lock).
    assert conf["spark.delta.logStore.s3a.impl"] == "io.lakehouse.delta.S3ConditionalPutLogStore"
    assert conf["spark.delta.logStore.s3.impl"] == "io.lakehouse.delta.S3ConditionalPutLogStore"


def test_a_cluster_secret_turns_authentication_on_and_its_absence_leaves_it_off() -> None:
    cluster = spark_conf(Settings(spark_master="spark://m:7077", spark_auth_secret="s3cret"), "job")
    assert cluster["spark.authenticate"] == "true" and cluster["spark.authenticate.secret"] == "s3cret"
    local = spark_conf(Settings(), "job")
    assert "spark.authenticate" not in local and "spark.authenticate.secret" not in local


def test_only_the_scratch_of_drivers_that_are_gone_is_removed() -> None:
    from lakehouse.spark.session import abandoned_scratch

    alive = {100, 300}.__contains__
    assert abandoned_scratch(["100", "200", "300", "400", "notes"], alive) == ["200", "400"]
