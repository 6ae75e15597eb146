"""Run the ingestion API under uvicorn (several worker processes, uvloop + httptools)."""

from __future__ import annotations

import copy
import gc
import logging
import os
import shutil
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from lakehouse.logging_setup import FORMAT, configure_logging
from lakehouse.paths import state_dir
from lakehouse.settings import load_settings

log = logging.getLogger(__name__)
GC_THRESHOLD = 50_000


def app_factory() -> FastAPI:
    """What each uvicorn worker imports: settings from the environment / .lakehouse/env."""
    from lakehouse.ingest.api.app import create_app

    configure_logging()
    app = create_app(load_settings())
    # A batch of 500 trades allocates thousands of short-lived objects (models, strings, tuples), none in
    # reference cycles: with the default threshold (700) the collector would run several times per request.
    # The startup objects are frozen out of every later collection.
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 20)
    return app


def _metrics_dir(port: int) -> Path:
    """A fresh folder where every worker writes its Prometheus samples (merged by GET /metrics)."""
    folder = state_dir() / "run" / f"api-metrics-{port}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def serve(host: str, port: int, workers: int | None = None, access_log: bool = False) -> None:
    settings = load_settings()
    workers = workers or settings.api_workers
    if workers > 1:
        # Must be set before the workers import prometheus_client.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir(port))
    log.info("ingestion API on http://%s:%d (%d worker(s)); docs at /docs", host, port, workers)
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["formatters"]["default"]["fmt"] = FORMAT
    uvicorn.run(
        "lakehouse.ingest.api.server:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=access_log,
        log_config=log_config,
        log_level=settings.log_level.lower(),
    )
