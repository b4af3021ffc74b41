"""``POST /v1/hooks/{tenant_id}/{source_id}``: the signed-webhook receiver.

The route is served twice over, by the same :func:`answer_webhook`: through
Starlette like every other route, and by :class:`HookFastPath`, a thin ASGI
layer in front of the application that takes this one route before
Starlette's middleware stack and router see it. It is the route that takes
the traffic, and the layers it skips cost more than verifying a signature.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neuronx.api.problems import PROBLEM_TYPE, problem_body, problem_document
from neuronx.api.state import AppState
from neuronx.errors import InvalidRequest, NeuronXError, PayloadTooLarge
from neuronx.observability.metrics import HTTP_DURATION, WEBHOOKS

log = logging.getLogger("neuronx.ingest")

ROUTE = "/v1/hooks/{tenant_id}/{source_id}"
_STATUS = {"accepted": 202, "held": 202, "duplicate": 200}
_JSON = b"application/json"

BodyReader = Callable[[int], Awaitable[bytes]]


async def answer_webhook(
    state: AppState,
    tenant_id: str,
    source_id: str,
    headers: Mapping[str, str],
    read: BodyReader,
    path: str,
) -> tuple[int, bytes, bytes]:
    """Status, body and content type of the answer to one inbound webhook."""
    try:
        entry = state.receiver.source(tenant_id, source_id)
        body = await read(state.receiver.max_body_bytes)
        admission = await state.receiver.receive(
            entry, headers, body, traceparent=headers.get("traceparent")
        )
    except NeuronXError as error:
        WEBHOOKS.labels(error.code).inc()
        _log_refusal(error, tenant_id, source_id)
        return error.status, problem_body(error, instance=path), PROBLEM_TYPE.encode()

    WEBHOOKS.labels(admission.status).inc()
    answer: dict[str, str] = {
        "event_id": admission.event_id,
        "status": admission.status,
    }
    if admission.trace_id is not None:
        answer["trace_id"] = admission.trace_id
    return _STATUS[admission.status], orjson.dumps(answer), _JSON


async def receive_webhook(request: Request) -> Response:
    """The Starlette endpoint of the route."""

    async def read(limit: int) -> bytes:
        return await read_body(request, limit)

    status, body, media_type = await answer_webhook(
        request.app.state.neuronx,
        request.path_params["tenant_id"],
        request.path_params["source_id"],
        request.headers,
        read,
        request.url.path,
    )
    return Response(body, status_code=status, media_type=media_type.decode())


async def read_body(request: Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes; a larger body is refused before it is buffered."""
    _check_declared_length(request.headers.get("content-length"), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_declared_length(declared: str | None, limit: int) -> None:
    if declared is None:
        return
    if not (declared.isascii() and declared.isdigit()):
        raise InvalidRequest("Content-Length is not a number")
    if int(declared) > limit:
        raise PayloadTooLarge(f"the body is over {limit} bytes")


class HookFastPath:
    """ASGI layer that serves the hook route itself and passes the rest on."""

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            parts = scope["path"].split("/")
            # ["", "v1", "hooks", tenant_id, source_id]
            if len(parts) == 5 and parts[1:3] == ["v1", "hooks"] and all(parts[3:]):
                await self._serve(scope, receive, send, parts[3], parts[4])
                return
        await self.app(scope, receive, send)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, tenant_id: str, source_id: str
    ) -> None:
        started = time.perf_counter()
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))

        async def read(limit: int) -> bytes:
            _check_declared_length(headers.get("content-length"), limit)
            return await _receive_body(receive, limit)

        try:
            status, body, media_type = await answer_webhook(
                self.state, tenant_id, source_id, headers, read, scope["path"]
            )
        except Exception:  # the same last resort as Starlette's error middleware
            log.exception(
                "Unexpected error while answering a webhook",
                extra={"action": "request_failed", "path": ROUTE},
            )
            status, media_type = 500, PROBLEM_TYPE.encode()
            body = orjson.dumps(
                problem_document(500, "internal_error", "Internal error")
            )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", media_type),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        HTTP_DURATION.labels("POST", ROUTE, str(status)).observe(
            time.perf_counter() - started
        )


async def _receive_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidRequest("the client went away before sending its body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _log_refusal(error: NeuronXError, tenant_id: str, source_id: str) -> None:
    level = logging.WARNING if error.status >= 500 else logging.INFO
    log.log(
        level,
        "Webhook refused",
        extra={
            "action": "webhook_refused",
            "code": error.code,
            "reason": error.detail,
            "tenant_id": tenant_id,
            "source_id": source_id,
        },
    )
