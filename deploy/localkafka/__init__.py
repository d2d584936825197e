"""A real Apache Kafka broker from Maven Central jars, for tests and local development."""

from deploy.localkafka.broker import BrokerStartError, LocalKafka, free_port
from deploy.localkafka.jars import DEFAULT_KAFKA_VERSION, JarFetchError, kafka_jars

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "BrokerStartError",
    "JarFetchError",
    "LocalKafka",
    "free_port",
    "kafka_jars",
]
