"""ticketstream: parking-ticket webhooks into Kafka, and a stream processor over them."""
