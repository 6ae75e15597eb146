#!/usr/bin/env bash
# Runs a Kafka main class on the image's jars (the stand-in's version of Kafka's own script).
# KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_OPTS and KAFKA_LOG4J_OPTS override the defaults.
set -euo pipefail
# shellcheck disable=SC2086  # option lists, split on purpose
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} \
  ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true} \
  ${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties} \
  ${KAFKA_OPTS:-} -cp '/opt/kafka/libs/*' "$@"
