"""Delivering digests: transports, retries, the ledger of what was sent."""
