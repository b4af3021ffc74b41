"""ASGI middleware: request duration by route template."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neuronx.observability.metrics import HTTP_DURATION


class RequestMetrics:
    """Observes ``http_server_request_duration_seconds`` for every HTTP request.

    The ``route`` label is the matched template (``/v1/hooks/{tenant_id}/...``),
    never the raw path, so its values stay few.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_DURATION.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )
