"""Opaque cursors for the lists of the API: ``{"items": [...], "next_cursor"}``.

A cursor wraps the last id of a page; callers pass it back untouched. It is
base64 so nobody builds on its shape.
"""

from __future__ import annotations

import base64

from neuronx.errors import InvalidRequest

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(last_id: int | str) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("the cursor is not one this API gave out") from None
    kind, _, value = text.partition(":")
    if kind != "id" or not value:
        raise InvalidRequest("the cursor is not one this API gave out")
    return value
