"""Stand-ins for the third-party images of docker-compose.yaml, built from package registries only.

Each stand-in is `ops/airgap/<name>/` (a Dockerfile plus its scripts), built with the classic
builder in a temporary context that also gets what the Dockerfile copies from elsewhere: the Go
binaries built on the host (minio, mc). Docker's layer cache keys
COPY on file contents, so a re-run with nothing changed is a few seconds per image.
docker-compose.airgap.yaml swaps the stand-ins in.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.airgap import bases
from lakehouse.airgap.bases import BuildError
from lakehouse.airgap.go_tools import MINIO, MINIO_CLIENT, GoTool, ensure_go_tool

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
STANDINS_DIR = REPO / "ops" / "airgap"
BUILD_TIMEOUT_S = 3600


@dataclass(frozen=True)
class StandIn:
    name: str
    replaces: str  # the image of docker-compose.yaml it stands in for
    repo_files: tuple[str, ...] = ()  # repo paths copied into the context under the same path
    go_tools: tuple[GoTool, ...] = ()  # host-built binaries copied into the context root
    build_args: dict[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return f"lakehouse-standin/{self.name}:local"


_BASE_ARGS = {"BASE_IMAGE": bases.DEBIAN.tag}

STANDINS = (
    StandIn("postgres", "postgres:17.6-bookworm", build_args=_BASE_ARGS),
    StandIn(
        "kafka",
        "apache/kafka:4.2.0",
        build_args={**_BASE_ARGS, "MAVEN_IMAGE": bases.MAVEN.tag},
    ),
    StandIn("minio", "minio/minio", go_tools=(MINIO, MINIO_CLIENT), build_args=_BASE_ARGS),
    StandIn("mc", "minio/mc", go_tools=(MINIO_CLIENT,), build_args=_BASE_ARGS),
    StandIn("prometheus", "prom/prometheus", build_args=_BASE_ARGS),
)


@dataclass(frozen=True)
class Built:
    tag: str
    seconds: float
    size_bytes: int


def _assemble_context(standin: StandIn, context: Path) -> None:
    shutil.copytree(STANDINS_DIR / standin.name, context, dirs_exist_ok=True)
    for relative in standin.repo_files:
        target = context / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / relative, target)
    for tool in standin.go_tools:
        shutil.copy2(ensure_go_tool(tool), context / tool.name)


def image_size(tag: str) -> int:
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", tag], capture_output=True, text=True, check=True
    )
    return int(result.stdout.strip())


def build_standin(standin: StandIn, no_cache: bool = False) -> Built:
    """Build one stand-in and tag it; raises BuildError with the end of the build log."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"standin-{standin.name}-") as workdir:
        context = Path(workdir) / "context"
        _assemble_context(standin, context)
        command = ["docker", "build", "--quiet", "--tag", standin.tag]
        for key, value in standin.build_args.items():
            command += ["--build-arg", f"{key}={value}"]
        if no_cache:
            command.append("--no-cache")
        command.append(str(context))
        log.info("building %s (stands in for %s)", standin.tag, standin.replaces)
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
    if result.returncode != 0:
        raise BuildError(f"docker build of {standin.tag} failed:\n{(result.stdout + result.stderr)[-4000:]}")
    built = Built(standin.tag, time.monotonic() - started, image_size(standin.tag))
    log.info("built %s in %.0fs (%.0f MB)", built.tag, built.seconds, built.size_bytes / 1e6)
    return built


def build_all(
    force: bool = False, names: tuple[str, ...] = (), progress: Callable[[str], None] | None = None
) -> list[Built]:
    """Bases (skipped when present unless forced), Go binaries (cached), then every stand-in.

    `force` rebuilds the bases and builds the stand-ins without the layer cache; `names` limits the
    stand-ins built. Returns what was built, with times and sizes.
    """
    report = progress or (lambda line: log.info("%s", line))
    for tag in bases.ensure_bases(force=force):
        report(f"base image {tag}")
    selected = [standin for standin in STANDINS if not names or standin.name in names]
    unknown = set(names) - {standin.name for standin in STANDINS}
    if unknown:
        raise BuildError(f"unknown stand-in(s): {', '.join(sorted(unknown))}")
    results = []
    for standin in selected:
        built = build_standin(standin, no_cache=force)
        report(f"{built.tag}  {built.seconds:.0f}s  {built.size_bytes / 1e6:.0f} MB  (for {standin.replaces})")
        results.append(built)
    return results
