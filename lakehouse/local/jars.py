"""Resolve the pinned JVM artifacts (`jvm/pom.xml`) from Maven Central into `.lakehouse/jars/`.

The first run downloads into Maven's own cache (~/.m2) and copies the jars; later runs see an
unchanged manifest fingerprint and return at once, without touching the network.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
from pathlib import Path

from lakehouse.local.errors import InfraError
from lakehouse.paths import REPO_ROOT, jars_dir

log = logging.getLogger(__name__)

JVM_DIR = REPO_ROOT / "jvm"
_MANIFESTS = ("pom.xml", "spark/pom.xml", "kafka/pom.xml", "delta-logstore/pom.xml")
# Our own JVM code (built by its module into jars/spark): a change to it must rebuild the jars too.
_SOURCES = ("delta-logstore/src",)
_VERSION_SUFFIX = re.compile(r"-\d[\w.+-]*\.jar$")


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in _MANIFESTS:
        digest.update((JVM_DIR / name).read_bytes())
    for folder in _SOURCES:
        for source in sorted(path for path in (JVM_DIR / folder).rglob("*") if path.is_file()):
            digest.update(source.relative_to(JVM_DIR).as_posix().encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


def _marker() -> Path:
    return jars_dir() / ".fingerprint"


def jars_ready() -> bool:
    marker = _marker()
    return marker.exists() and marker.read_text().strip() == _fingerprint()


def ensure_jars() -> Path:
    """Make sure `.lakehouse/jars/{spark,kafka}` hold exactly the pinned artifacts (and our log store jar)."""
    if jars_ready():
        return jars_dir()
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError("Maven (mvn) is required to fetch the JVM jars: apt-get install maven")
    if shutil.which("java") is None:
        raise InfraError("Java 17+ is required: apt-get install openjdk-17-jre-headless")
    target = jars_dir()
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    log.info("resolving JVM jars from Maven Central into %s (first run only)", target)
    result = subprocess.run(
        [mvn, "-B", "-q", "package", f"-Djars.dir={target}"],
        cwd=JVM_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise InfraError(f"mvn could not resolve jvm/pom.xml:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    _marker().write_text(_fingerprint())
    return target


def _artifact_name(jar: Path) -> str:
    return _VERSION_SUFFIX.sub("", jar.name)


def spark_jars() -> list[Path]:
    """Jars to add to pyspark: ours, minus any library the pyspark wheel already ships (its copy wins)."""
    import pyspark

    bundled = {_artifact_name(jar) for jar in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    ensure_jars()
    return sorted(jar for jar in (jars_dir() / "spark").glob("*.jar") if _artifact_name(jar) not in bundled)


def kafka_classpath() -> str:
    ensure_jars()
    return str(jars_dir() / "kafka" / "*")
