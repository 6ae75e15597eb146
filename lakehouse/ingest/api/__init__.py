"""The HTTP ingestion gateway: `POST /v1/trades` into Kafka `raw-trades`."""
