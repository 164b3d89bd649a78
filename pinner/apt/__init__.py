"""apt: Debian versions and archive indexes, apt RUN steps read and rewritten; no network."""
