"""Epoch seconds, as stored, to RFC 3339 text, as shown."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    text = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
