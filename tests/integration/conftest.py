"""Fixtures shared by integration tests of several areas."""

from tests.utils.silver_pg import gold_db

__all__ = ["gold_db"]
