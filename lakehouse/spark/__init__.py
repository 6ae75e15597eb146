"""Spark session factory shared by every Spark job and test."""
