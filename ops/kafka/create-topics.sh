#!/usr/bin/env bash
# One-shot topic set-up for compose (run by the `kafka-init` service in the apache/kafka image).
# Creates the trade topic when missing and raises its partition count to KAFKA_PARTITIONS when it has
# fewer, so scaling out is: set KAFKA_PARTITIONS in .env, then `docker compose up -d kafka-init`.
# Kafka cannot lower a partition count: a smaller value than the current one is reported and ignored.
set -euo pipefail

bootstrap="${KAFKA_BOOTSTRAP:?KAFKA_BOOTSTRAP is not set}"
topic="${KAFKA_TOPIC:?KAFKA_TOPIC is not set}"
partitions="${KAFKA_PARTITIONS:?KAFKA_PARTITIONS is not set}"
topics=/opt/kafka/bin/kafka-topics.sh

case "$partitions" in
  '' | *[!0-9]* | 0) echo "KAFKA_PARTITIONS must be a positive integer, got '$partitions'" >&2; exit 2 ;;
esac

"$topics" --bootstrap-server "$bootstrap" --create --if-not-exists \
  --topic "$topic" --partitions "$partitions" --replication-factor 1

current=$("$topics" --bootstrap-server "$bootstrap" --describe --topic "$topic" \
  | sed -n 's/.*PartitionCount: *\([0-9][0-9]*\).*/\1/p' | head -n 1)
if [ -z "$current" ]; then
  echo "could not read the partition count of $topic" >&2
  exit 1
fi
if [ "$current" -lt "$partitions" ]; then
  "$topics" --bootstrap-server "$bootstrap" --alter --topic "$topic" --partitions "$partitions"
  echo "topic $topic: partitions raised from $current to $partitions"
elif [ "$current" -gt "$partitions" ]; then
  echo "topic $topic keeps its $current partitions (Kafka cannot lower them to $partitions)"
else
  echo "topic $topic ready with $current partitions"
fi
