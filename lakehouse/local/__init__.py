"""The embedded local runtime: Kafka and PostgreSQL as local processes, jars from Maven Central."""
