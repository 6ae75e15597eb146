"""Prometheus metrics of the platform's jobs: the streaming queries (a StreamingQueryListener) and the trainer.

The ingestion API and the producer export their own (lakehouse/ingest/api/metrics.py,
lakehouse/ingest/exchange_feed_metrics.py); ops/prometheus/prometheus.yml scrapes them all.
"""
