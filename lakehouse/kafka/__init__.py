"""Kafka helpers shared by producers, the API and tests."""
