"""Debian base images made from packages alone: `mmdebstrap ... bookworm - | docker import`.

No container registry is needed: mmdebstrap fetches .deb files from the Debian mirror and writes a
root filesystem as a tar stream, which `docker import` turns into a one-layer image. The stand-ins
(lakehouse.airgap.standins) and our own Dockerfiles (via the PYTHON_IMAGE / MAVEN_IMAGE build args)
start FROM these.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

SUITE = "bookworm"
STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_JAVA_CACERTS = Path("/etc/ssl/certs/java/cacerts")
BUILD_TIMEOUT_S = 1800


class BuildError(RuntimeError):
    """An image could not be built; the message says which step failed and why."""


@dataclass(frozen=True)
class BaseImage:
    tag: str
    packages: tuple[str, ...]
    changes: tuple[str, ...] = ()  # Dockerfile instructions for `docker import --change`
    hooks: tuple[str, ...] = field(default=())  # extra mmdebstrap options (customize hooks)


DEBIAN = BaseImage(
    "lakehouse-base/debian:bookworm",
    ("ca-certificates",),
    (f"ENV PATH={STANDARD_PATH}", 'CMD ["bash"]'),
)
PYTHON = BaseImage(
    "lakehouse-base/python:3.11-bookworm",
    ("python3", "python3-venv", "python3-pip", "python-is-python3", "ca-certificates", "passwd"),
    (f"ENV PATH={STANDARD_PATH}", 'CMD ["python3"]'),
)
MAVEN = BaseImage(
    "lakehouse-base/maven:3-jdk17-bookworm",
    ("openjdk-17-jdk-headless", "maven", "ca-certificates", "ca-certificates-java"),
    (
        f"ENV PATH={STANDARD_PATH}",
        "ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64",
        "ENV MAVEN_HOME=/usr/share/maven",
        'CMD ["mvn", "--version"]',
    ),
    # This machine's trust store (it holds the CA that HTTPS to Maven Central is signed with here);
    # the hook runs after ca-certificates-java wrote its own, so ours wins.
    (f"--customize-hook=copy-in {HOST_JAVA_CACERTS} /etc/ssl/certs/java/",),
)
ALL_BASES = (DEBIAN, PYTHON, MAVEN)
# An image made earlier by hand under another name: re-tagged instead of rebuilt.
LEGACY_TAGS = {PYTHON.tag: "lakehouse/base-python:bookworm"}


def image_exists(tag: str) -> bool:
    result = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False)
    return result.returncode == 0


def _import(base: BaseImage) -> None:
    if shutil.which("mmdebstrap") is None:
        raise BuildError("building base images needs mmdebstrap (apt-get install mmdebstrap)")
    debstrap = [
        "mmdebstrap",
        "--variant=minbase",
        "--quiet",
        f"--include={','.join(base.packages)}",
        # No apt lists or .deb cache left in the image.
        "--customize-hook=rm -rf $1/var/lib/apt/lists/* $1/var/cache/apt/archives/*.deb",
        *base.hooks,
        SUITE,
        "-",
    ]
    docker_import = ["docker", "import"]
    for change in base.changes:
        docker_import += ["--change", change]
    docker_import += ["-", base.tag]
    with subprocess.Popen(debstrap, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as producer:
        assert producer.stdout is not None
        importer = subprocess.run(
            docker_import, stdin=producer.stdout, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
        )
        producer.stdout.close()
        _, debstrap_err = producer.communicate(timeout=BUILD_TIMEOUT_S)
    if producer.returncode != 0:
        raise BuildError(f"mmdebstrap for {base.tag} failed:\n{debstrap_err.decode(errors='replace')[-3000:]}")
    if importer.returncode != 0:
        raise BuildError(f"docker import of {base.tag} failed:\n{importer.stderr[-3000:]}")


def ensure_base(base: BaseImage, force: bool = False) -> bool:
    """Build (or re-tag) the base image when missing or when forced; True when it did anything."""
    if not force and image_exists(base.tag):
        log.info("base %s exists, skipped", base.tag)
        return False
    legacy = LEGACY_TAGS.get(base.tag)
    if not force and legacy is not None and image_exists(legacy):
        subprocess.run(["docker", "tag", legacy, base.tag], check=True, capture_output=True)
        log.info("base %s re-tagged from %s", base.tag, legacy)
        return True
    started = time.monotonic()
    log.info("building base %s from Debian %s packages", base.tag, SUITE)
    _import(base)
    log.info("built base %s in %.0fs", base.tag, time.monotonic() - started)
    return True


def ensure_bases(force: bool = False) -> list[str]:
    """Every base image; returns the tags that were built or re-tagged."""
    return [base.tag for base in ALL_BASES if ensure_base(base, force=force)]
