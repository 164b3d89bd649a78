"""Debian archive indexes: version ordering, Packages and InRelease, as pure functions."""
