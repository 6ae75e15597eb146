"""Getting trades into Kafka: the Binance producer, the HTTP gateway and the company simulator."""
