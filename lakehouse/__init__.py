"""Real-time market-data lakehouse: Kafka -> Delta bronze/silver -> PostgreSQL gold, with MLOps."""

__version__ = "0.1.0"
