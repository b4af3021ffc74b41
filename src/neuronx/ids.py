"""Identifiers: time-ordered, URL-safe, with a type prefix (``evt_``, ``lead_``).

The 48-bit millisecond clock in front keeps ids in arrival order, so primary
keys stay append-mostly in both databases and cursors can page by id.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return prefix + "_" + "".join(reversed(chars))


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()
