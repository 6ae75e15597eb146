"""Build a pinned Go command from the Go module proxy once, cached under `.lakehouse/tools/`.

The tests need programs that no Python or Debian package ships at a usable version: the MinIO
server (an S3-compatible store for the s3a lake) and its client `mc` (which runs the compose bucket
set-up), and docker compose (to check the compose file without a Docker engine). All are Go
modules, so `go` builds them from source on first use (minutes cold, under a minute with a warm Go
build cache); later runs find the binary and start at once. The binaries are static (`CGO_ENABLED=0`), so the
air-gap stand-in images (lakehouse.airgap.standins) can copy minio and mc into any Debian image.
A throw-away module is used rather than `go install pkg@version`, which refuses modules whose
go.mod has `exclude` or `replace` directives (docker compose has some).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lakehouse.paths import state_dir

BUILD_TIMEOUT_S = 1800


class GoToolUnavailable(RuntimeError):  # noqa: N818  (the name the tests import)
    """The tool cannot be built on this machine (no Go toolchain, or the build failed); says why."""


@dataclass(frozen=True)
class GoTool:
    name: str
    package: str  # the main package to build
    version: str  # the version of the module that provides it

    @property
    def binary(self) -> Path:
        return state_dir() / "tools" / f"{self.name}-{self.version}" / self.name


MINIO = GoTool("minio", "github.com/minio/minio", "v0.0.0-20260212201848-7aac2a2c5b7c")
MINIO_CLIENT = GoTool("mc", "github.com/minio/mc", "v0.0.0-20250313080218-cf909e1063a9")
DOCKER_COMPOSE = GoTool("docker-compose", "github.com/docker/compose/v2/cmd", "v2.40.3")


def ensure_go_tool(tool: GoTool) -> Path:
    """The cached binary, built first when missing. Raises GoToolUnavailable with the reason."""
    if tool.binary.exists():
        return tool.binary
    go = shutil.which("go")
    if go is None:
        raise GoToolUnavailable(f"building {tool.name} needs the Go toolchain (`go`), which is not on PATH")
    tool.binary.parent.mkdir(parents=True, exist_ok=True)
    # Several test sessions may start at once: one builds, the others wait for its result.
    with open(tool.binary.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tool.binary.exists():
            return tool.binary
        with tempfile.TemporaryDirectory(prefix=f"build-{tool.name}-") as workdir:
            env = {**os.environ, "GOFLAGS": "-buildvcs=false", "CGO_ENABLED": "0"}
            steps = [
                [go, "mod", "init", f"lakehouse.local/build/{tool.name}"],
                [go, "get", f"{tool.package}@{tool.version}"],
                [go, "build", "-o", str(Path(workdir) / tool.name), tool.package],
            ]
            for step in steps:
                try:
                    result = subprocess.run(
                        step, cwd=workdir, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
                    )
                except subprocess.TimeoutExpired as error:
                    raise GoToolUnavailable(f"`{' '.join(step)}` took over {BUILD_TIMEOUT_S}s") from error
                if result.returncode != 0:
                    raise GoToolUnavailable(f"`{' '.join(step)}` failed:\n{result.stderr[-3000:]}")
            built = Path(workdir) / tool.name
            built.chmod(0o755)
            # Rename within one filesystem is atomic: nobody ever sees half a binary.
            staged = tool.binary.with_suffix(".partial")
            shutil.copy2(built, staged)
            staged.replace(tool.binary)
    return tool.binary
