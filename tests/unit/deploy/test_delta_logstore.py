"""The multi-driver-safe Delta log store is built where Spark's jars come from, in local mode and in the image."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from lakehouse.local import jars
from lakehouse.settings import Settings
from lakehouse.spark.session import S3_LOG_STORE, spark_conf
from tests.utils.compose_model import REPO

POM = "{http://maven.apache.org/POM/4.0.0}"
MODULE = REPO / "jvm" / "delta-logstore"


def test_the_module_is_built_with_the_others_into_the_spark_jars_folder() -> None:
    parent = ET.parse(REPO / "jvm" / "pom.xml").getroot()
    assert "delta-logstore" in [m.text for m in parent.iter(f"{POM}module")]
    pom = ET.parse(MODULE / "pom.xml").getroot()
    # Dockerfile.spark copies /jars/spark into Spark's jars folder; local mode reads .lakehouse/jars/spark.
    jar_plugin = next(p for p in pom.iter(f"{POM}plugin") if p.findtext(f"{POM}artifactId") == "maven-jar-plugin")
    assert jar_plugin.findtext(f"{POM}configuration/{POM}outputDirectory") == "${jars.dir}/spark"
    # Nothing of its own on the classpath: Spark, hadoop-aws and delta-storage are there already.
    scopes = {d.findtext(f"{POM}artifactId"): d.findtext(f"{POM}scope") for d in pom.iter(f"{POM}dependency")}
    assert set(scopes.values()) == {"provided"}, scopes


def test_session_names_the_class_the_module_defines_and_a_source_change_rebuilds_the_jars() -> None:
    package, _, name = S3_LOG_STORE.rpartition(".")
    source = MODULE / "src" / "main" / "java" / package.replace(".", "/") / f"{name}.java"
    assert re.search(rf"public class {name} extends", source.read_text())
    conf = spark_conf(Settings(lake_uri="s3a://lakehouse/lake", s3_endpoint="http://minio:9000"), "job")
    assert conf["spark.delta.logStore.s3a.impl"] == S3_LOG_STORE
    assert "delta-logstore/pom.xml" in jars._MANIFESTS
    assert any(source.is_relative_to(jars.JVM_DIR / folder) for folder in jars._SOURCES)
