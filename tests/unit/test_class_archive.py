"""When Spark jobs map the class-data-sharing archive, and when they must not."""

from pathlib import Path

import pytest

from lakehouse.spark import class_archive

JARS = [Path("delta-spark_4.2_2.13-4.4.0.jar"), Path("spark-sql-kafka-0-10_2.13-4.2.0.jar")]


@pytest.fixture(autouse=True)
def jars_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAKEHOUSE_JARS_DIR", str(tmp_path))
    monkeypatch.delenv(class_archive.ENABLED_VARIABLE, raising=False)
    return tmp_path


def test_no_archive_no_options() -> None:
    assert class_archive.java_options(JARS) == []


def test_an_archive_for_these_jars_is_mapped_quietly() -> None:
    path = class_archive.archive_path(JARS)
    assert path is not None
    path.write_bytes(b"archive")
    options = class_archive.java_options(JARS)
    assert options[0] == f"-XX:SharedArchiveFile={path}"
    assert "-Xlog:cds=off" in options  # the JVM's notes on classes it skipped are not our log's business


def test_another_jar_set_never_maps_an_archive_made_for_this_one() -> None:
    path = class_archive.archive_path(JARS)
    assert path is not None
    path.write_bytes(b"archive")
    assert class_archive.archive_path([*JARS, Path("hadoop-aws-3.5.0.jar")]) != path
    assert class_archive.java_options(JARS[:1]) == []


def test_it_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    path = class_archive.archive_path(JARS)
    assert path is not None
    path.write_bytes(b"archive")
    monkeypatch.setenv(class_archive.ENABLED_VARIABLE, "0")
    assert class_archive.java_options(JARS) == []


def test_the_training_job_dumps_where_it_is_told(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert class_archive.dump_options() == []
    monkeypatch.setenv("LAKEHOUSE_SPARK_CLASS_ARCHIVE_DUMP", str(tmp_path / "x.partial"))
    assert class_archive.dump_options()[0] == f"-XX:ArchiveClassesAtExit={tmp_path / 'x.partial'}"


@pytest.mark.parametrize("failure", ["timeout", "exit"])
def test_a_failed_training_job_leaves_no_archive_and_no_error(
    monkeypatch: pytest.MonkeyPatch, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    import subprocess

    from lakehouse.local import jars

    def training_job(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        if failure == "timeout":
            raise subprocess.TimeoutExpired(command, 600)
        return subprocess.CompletedProcess(command, 1, "", "java.lang.OutOfMemoryError")

    monkeypatch.setattr(jars, "spark_jars", lambda: JARS)
    monkeypatch.setattr(class_archive.subprocess, "run", training_job)
    assert class_archive.ensure_archive() is None  # set-up goes on: only start-up time is lost
    assert class_archive.java_options(JARS) == []
    assert "no Spark class archive" in caplog.text
