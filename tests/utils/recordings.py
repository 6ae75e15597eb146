"""The real market recordings beside the repository (`../shared/data/`, see its README): where they are,
and a skip that says why when they are not (a clone outside this workplace)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakehouse.paths import REPO_ROOT

RECORDINGS = REPO_ROOT.parent / "shared" / "data"


def recording(name: str) -> Path:
    """The recording `name`; the test skips, saying so, where the folder is absent."""
    path = RECORDINGS / name
    if not path.exists():
        pytest.skip(f"the real recordings are not here ({path})")
    return path


def recorded_messages(name: str) -> Iterator[dict[str, Any]]:
    """Every message of a `.gz` recording in order: combined-stream wrappers `{"stream", "data"}`, and the
    REST depth snapshots the recorder fetched (`{"lastUpdateId", "bids", "asks", ...}`)."""
    with gzip.open(recording(name), "rt") as lines:
        for line in lines:
            _received_ns, _, message = line.partition(" ")
            yield json.loads(message)


def stream_messages(name: str, stream_suffix: str) -> Iterator[dict[str, Any]]:
    """The `data` of every message of a `.gz` recording whose stream ends with the suffix."""
    for message in recorded_messages(name):
        if message.get("stream", "").endswith(stream_suffix):
            yield message["data"]
