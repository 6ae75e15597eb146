#!/usr/bin/env bash
# Entrypoint of the Kafka stand-in, with the official apache/kafka image's contract:
#  - KAFKA_<NAME> environment variables become server.properties keys: lower case, `_` -> `.`,
#    `__` -> `_`, `___` -> `-` (KAFKA_NODE_ID -> node.id); JVM and tool settings such as
#    KAFKA_HEAP_OPTS are not keys. Without any, the default single-node KRaft config is used.
#  - The first log dir is formatted with CLUSTER_ID (a random one when unset) on first start only.
#  - Then the broker runs in the foreground (SIGTERM: a controlled shutdown).
set -euo pipefail

config=/opt/kafka/config/server.properties
not_keys=" KAFKA_VERSION KAFKA_HEAP_OPTS KAFKA_LOG4J_OPTS KAFKA_OPTS KAFKA_JMX_OPTS KAFKA_JMX_HOSTNAME \
KAFKA_JVM_PERFORMANCE_OPTS KAFKA_GC_LOG_OPTS KAFKA_LOG4J_ROOT_LOGLEVEL KAFKA_LOG4J_LOGGERS \
KAFKA_TOOLS_LOG4J_LOGLEVEL KAFKA_DEBUG KAFKA_HOME "

keys=()
for var in $(compgen -e); do
  case "$var" in KAFKA_*) ;; *) continue ;; esac
  case "$not_keys" in *" $var "*) continue ;; esac
  name="${var#KAFKA_}"
  name="${name,,}"
  name="${name//___/-}"
  name="${name//__/@}"
  name="${name//_/.}"
  name="${name//@/_}"
  keys+=("$name=${!var}")
done

if [ "${#keys[@]}" -gt 0 ]; then
  printf '%s\n' "${keys[@]}" > "$config"
else
  cp /opt/kafka/config/default-server.properties "$config"
fi

log_dirs=$(sed -n 's/^log\.dirs=//p' "$config" | tail -n 1)
[ -n "$log_dirs" ] || log_dirs=$(sed -n 's/^log\.dir=//p' "$config" | tail -n 1)
first_dir="${log_dirs%%,*}"
first_dir="${first_dir:-/tmp/kraft-combined-logs}"
if [ ! -f "$first_dir/meta.properties" ]; then
  cluster_id="${CLUSTER_ID:-$(/opt/kafka/bin/kafka-storage.sh random-uuid)}"
  echo "kafka: formatting $first_dir for cluster $cluster_id" >&2
  /opt/kafka/bin/kafka-storage.sh format --cluster-id "$cluster_id" --config "$config" --ignore-formatted
fi

exec /opt/kafka/bin/kafka-server-start.sh "$config"
