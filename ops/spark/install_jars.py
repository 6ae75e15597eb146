"""Copy the pinned JVM jars into a Spark distribution's jars folder, minus those Spark already ships.

Used by Dockerfile.spark. A jar whose artifact (its file name without the version) is already in the
target folder is skipped, so Spark's own copy of a shared library wins: the same rule as
`lakehouse.local.jars.spark_jars()` applies in local mode (a test keeps the two in agreement).

    python install_jars.py SOURCE_DIR SPARK_JARS_DIR
"""

from __future__ import annotations

import logging
import re
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("install_jars")

# Keep in step with lakehouse/local/jars.py (_VERSION_SUFFIX); tests/unit/deploy/test_dockerfiles.py checks it.
VERSION_SUFFIX = re.compile(r"-\d[\w.+-]*\.jar$")


def artifact_name(jar_name: str) -> str:
    """`hadoop-aws-3.5.0.jar` -> `hadoop-aws`."""
    return VERSION_SUFFIX.sub("", jar_name)


def jars_to_add(ours: Iterable[Path], bundled: Iterable[Path]) -> list[Path]:
    """Our jars whose artifact is not among the bundled ones, sorted by name."""
    present = {artifact_name(jar.name) for jar in bundled}
    return sorted((jar for jar in ours if artifact_name(jar.name) not in present), key=lambda jar: jar.name)


def install(source: Path, target: Path) -> list[Path]:
    if not target.is_dir():
        raise SystemExit(f"{target} is not a folder: is SPARK_HOME right?")
    ours = list(source.glob("*.jar"))
    if not ours:
        raise SystemExit(f"no jars in {source}: did `mvn package -Djars.dir=...` run?")
    selected = jars_to_add(ours, target.glob("*.jar"))
    for jar in selected:
        shutil.copy2(jar, target / jar.name)
        log.info("added %s", jar.name)
    log.info("%d of %d jars added to %s (the rest ship with Spark)", len(selected), len(ours), target)
    return selected


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if len(argv) != 2:
        log.error("usage: install_jars.py SOURCE_DIR SPARK_JARS_DIR")
        return 2
    install(Path(argv[0]), Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
