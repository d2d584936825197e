"""Benchmarks: scripts that print measured figures; never assertions in the test suite."""
