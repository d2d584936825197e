"""Pydantic models shared by receiver and worker: inbound events, envelope, records."""
