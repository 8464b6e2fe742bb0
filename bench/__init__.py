"""Benchmarks and proofs run from a checkout: ``python -m bench.<name>`` from the repository root."""
