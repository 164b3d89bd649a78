"""How many examples a property test runs: its own count in `make test`, a tenth in test-fast."""

from __future__ import annotations

from hypothesis import settings


def examples(count: int) -> int:
    """count scaled by the loaded profile's max_examples (100 unless a profile says otherwise)."""
    return max(1, count * settings.default.max_examples // 100)
