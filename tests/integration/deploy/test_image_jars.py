"""The Spark image adds the same jars to Spark as local mode does (needs the jars resolved by Maven)."""

from __future__ import annotations

from pathlib import Path

from tests.utils.images import install_jars_module


def test_image_jars_equal_the_local_mode_jars() -> None:
    # The image filters the Maven output against Spark's jars folder exactly as local mode does.
    import pyspark

    from lakehouse.local.jars import spark_jars
    from lakehouse.paths import jars_dir

    install_jars = install_jars_module()
    local = [jar.name for jar in spark_jars()]
    bundled = (Path(pyspark.__file__).parent / "jars").glob("*.jar")
    image = [jar.name for jar in install_jars.jars_to_add((jars_dir() / "spark").glob("*.jar"), bundled)]
    assert image == local
    assert any(name.startswith("hadoop-aws-") for name in image) and any(name.startswith("bundle-") for name in image)
