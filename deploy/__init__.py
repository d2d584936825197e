"""Deployment assets: local Kafka tooling (Python), container and Kubernetes manifests."""
