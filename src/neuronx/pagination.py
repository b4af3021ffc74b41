"""Opaque cursors for the lists of the API: ``{"items": [...], "next_cursor"}``.

A cursor wraps the last id of a page; callers pass it back untouched. It is
base64 so nobody builds on its shape.
"""

from __future__ import annotations

import base64

from neuronx.errors import InvalidRequest

__all__ = ["MAX_ID", "decode_cursor", "decode_id_cursor", "encode_cursor", "parse_id"]

# Row ids are signed 64-bit integers in both databases.
MAX_ID = 2**63 - 1


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


def parse_id(text: str) -> int | None:
    """A row id from text: ASCII digits within 1..MAX_ID, else None.

    ``str.isdigit`` is not enough: it accepts "²", which ``int`` refuses.
    """
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def decode_id_cursor(cursor: str | None) -> int | None:
    """A cursor over integer ids."""
    text = decode_cursor(cursor)
    if text is None:
        return None
    value = parse_id(text)
    if value is None:
        raise InvalidRequest("the cursor is not one this API gave out")
    return value
