"""Digests: what each subscriber gets, and how it is rendered."""
