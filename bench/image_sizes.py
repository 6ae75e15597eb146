"""The size of each of our images, one per dependency group, and of what they share on disk.

Needs the images built (`make up`, or the compose run: `make test-compose`), then

    uv run python -m bench.image_sizes

Per image: its size (`docker image inspect`: every layer, the base's included), how many pinned
distributions its dependency group installs, and the size of its Python environment (/opt/venv,
with Spark's jars in the Spark images). Results: bench/results/image_sizes.json.
"""

from __future__ import annotations

import json
import logging
import subprocess
from typing import Any

from bench.common import write_result
from lakehouse.logging_setup import configure_logging
from tests.utils.compose_model import REPO

log = logging.getLogger("bench.image_sizes")
# Image -> the dependency group it installs (docker-compose.yaml, DEPENDENCY_GROUP).
IMAGES = {
    "lakehouse/ingest:local": "ingest",
    "lakehouse/dbt:local": "dbt",
    "lakehouse/mlflow:local": "mlflow-server",
    "lakehouse/dashboard:local": "dashboard",
    "lakehouse/spark:local": "spark",
    "lakehouse/airflow:local": "airflow",
}
GB = 1000**3


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def _pins(group: str) -> int:
    text = (REPO / "requirements" / f"{group}.txt").read_text()
    return sum(1 for line in text.splitlines() if "==" in line)


def _venv_bytes(image: str) -> int:
    out = _docker("run", "--rm", "--entrypoint", "du", image, "-sb", "/opt/venv")
    return int(out.split()[0])


def measure() -> dict[str, Any]:
    images: dict[str, Any] = {}
    for image, group in IMAGES.items():
        inspected = json.loads(_docker("image", "inspect", image))[0]
        images[image] = {
            "group": group,
            "pinned_distributions": _pins(group),
            "size_gb": round(inspected["Size"] / GB, 2),
            "venv_gb": round(_venv_bytes(image) / GB, 2),
        }
        log.info("%s (%s): %s", image, group, images[image])
    return {"images": images}


def main() -> None:
    configure_logging()
    figures = measure()
    sizes = {image: figures["images"][image]["size_gb"] for image in IMAGES}
    figures["largest_gb"] = max(sizes.values())
    figures["sum_gb"] = round(sum(sizes.values()), 2)
    write_result("image_sizes", figures, {"largest_gb": {"op": "<=", "value": 4.0, "unit": "GB"}})


if __name__ == "__main__":
    main()
