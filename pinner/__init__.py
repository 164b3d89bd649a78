"""pinner: make container builds reproducible by pinning what they fetch."""

__version__ = "0.2.0"
# One request, from connecting to the last byte of its body, must finish within this (--timeout).
# Here rather than in pinner.remote.http: the command line shows it without importing httpx.
DEFAULT_TIMEOUT = 300.0
