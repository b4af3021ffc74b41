"""Structured logs: one JSON object per line, with a stable ``action`` name.

Call sites log a short sentence and pass the event name and context through
``extra``::

    log.info("Webhook refused", extra={"action": "webhook_refused", "code": code})

Nothing here logs secrets, signatures or payloads; keys that look like they
hold one are dropped from the context as a second line of defence.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
_FORBIDDEN = ("secret", "signature", "payload", "body", "token", "password", "api_key")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "action": getattr(record, "action", None) or _fallback_action(record),
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key in _RESERVED or key == "action" or key.startswith("_"):
                continue
            if any(word in key.lower() for word in _FORBIDDEN):
                continue
            entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__
            entry["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def _fallback_action(record: logging.LogRecord) -> str:
    return record.name.replace(".", "_") + "_" + record.levelname.lower()


def configure_logging(level: str = "INFO") -> None:
    """Send every logger, uvicorn's included, to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # One line per request is the metrics' job, not the log's.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
