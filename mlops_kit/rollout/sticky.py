"""Sticky, symmetric traffic split: one hash of the declared key decides the arm, for both arms alike.

``bucket(key)`` is a stable hash (blake2b, not Python's per-process ``hash``) of the key into 0..9999;
a request goes to the canary when its bucket is below ``weight × 100``. The same key always lands in
the same bucket, so a customer never flips between models while the weight stays put, and raising the
weight only moves keys from stable to canary (never back): the split is monotone and symmetric.
"""

from __future__ import annotations

import hashlib

BUCKETS = 10_000


def bucket(key: str) -> int:
    """The key's bucket, 0..9999, the same in every process and on every machine."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") % BUCKETS


def routes_to_canary(key: str, weight: float) -> bool:
    """True when ``key`` belongs to the canary's share at ``weight`` percent."""
    return bucket(key) < weight * BUCKETS / 100
