"""pinner: make container builds reproducible by pinning what they fetch."""

__version__ = "0.1.0"
