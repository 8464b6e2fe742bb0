"""Data feed: the upstream contract, Redis connection, publishing helper and stream consumer."""
