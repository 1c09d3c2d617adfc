"""Subscribers and their subscriptions (topics): validation, files, storage."""
