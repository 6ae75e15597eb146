"""A killed Spark driver's scratch (its copy of the jars, hundreds of MiB) is removed by the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lakehouse.paths import jars_dir

DRIVER = (
    "import sys, time\n"
    "from lakehouse.settings import load_settings; from lakehouse.spark.session import build_spark\n"
    "spark = build_spark(load_settings(), app_name='scratch-test'); spark.range(10).count()\n"
    "print('ready', flush=True)\n"
    "if sys.argv[1] == 'wait': time.sleep(600)\n"
)


def size_mib(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20


def test_the_next_driver_removes_the_scratch_a_killed_one_left(tmp_path: Path) -> None:
    env = {**os.environ, "LAKEHOUSE_HOME": str(tmp_path / "home"), "LAKEHOUSE_JARS_DIR": str(jars_dir())}
    scratch = tmp_path / "home" / "spark-scratch"
    killed = subprocess.Popen(
        [sys.executable, "-c", DRIVER, "wait"], env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert killed.stdout is not None and killed.stdout.readline().strip() == "ready"
        left = scratch / str(killed.pid)
        assert size_mib(left) > 100, "the driver's copy of the jars should be in its scratch"
    finally:
        os.killpg(killed.pid, signal.SIGKILL)  # the whole driver, JVM included, as a crash would
        killed.wait()
    time.sleep(1)
    assert left.exists()  # nothing cleans up after a kill -9 ...
    after = subprocess.run([sys.executable, "-c", DRIVER, "exit"], env=env, capture_output=True, text=True, timeout=300)
    assert after.returncode == 0, after.stderr[-2000:]
    assert not left.exists(), "... but the next driver's start does"
