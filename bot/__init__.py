"""paperbot: a self-hosted paper-feed subscription and digest bot."""

__version__ = "0.1.0"
