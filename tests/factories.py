"""Small factories shared by the fixtures and the tests."""

from __future__ import annotations

import itertools

_codes = itertools.count(1)


def next_unit_code() -> str:
    """A fresh, well-formed QCVN 102 unit code (H99: the placeholder province)."""
    n = next(_codes)
    return f"{n // 10000:03d}.{n // 100 % 100:02d}.{n % 100:02d}.H99"
