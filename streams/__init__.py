"""The Faust worker: per-ticket state, normalized records, and the agent that drives them."""
