"""Spark Structured Streaming jobs: Kafka `raw-trades` to Delta bronze and silver, and the PostgreSQL mirror.

Layout: `kafka_source` (the shared Kafka reader), `bronze` (raw archive job), `silver_transforms`
(pure DataFrame -> DataFrame validation, dedup and typing), `scoring` (the pluggable prediction hook),
`postgres_mirror` (idempotent COPY + upsert), `silver` (the per-batch orchestration), `delta_sink`
(idempotent Delta appends) and `runner` (triggers, checkpoints, batch logging).
"""
