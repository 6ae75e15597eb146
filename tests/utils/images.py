"""Helpers shared by the image checks."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from tests.utils.compose_model import REPO


def install_jars_module() -> ModuleType:
    """ops/spark/install_jars.py, the script the Spark image runs, as a module."""
    spec = importlib.util.spec_from_file_location("install_jars", REPO / "ops" / "spark" / "install_jars.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
