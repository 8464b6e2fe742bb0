"""Pure layout functions for the dashboard's pages; no I/O, no callbacks."""
