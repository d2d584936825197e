"""The webhook receiver: authenticates senders and publishes their events to Kafka."""
