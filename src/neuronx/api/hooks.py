"""``POST /v1/hooks/{tenant_id}/{source_id}``: the signed-webhook receiver."""

from __future__ import annotations

import logging

import orjson
from starlette.requests import Request
from starlette.responses import Response

from neuronx.api.problems import problem_from
from neuronx.api.state import AppState
from neuronx.errors import InvalidRequest, NeuronXError, PayloadTooLarge
from neuronx.observability.metrics import WEBHOOKS

log = logging.getLogger("neuronx.ingest")

_STATUS = {"accepted": 202, "held": 202, "duplicate": 200}


async def receive_webhook(request: Request) -> Response:
    state: AppState = request.app.state.neuronx
    tenant_id = request.path_params["tenant_id"]
    source_id = request.path_params["source_id"]
    try:
        entry = state.receiver.source(tenant_id, source_id)
        body = await read_body(request, state.receiver.max_body_bytes)
        admission = await state.receiver.receive(
            entry, request.headers, body, traceparent=request.headers.get("traceparent")
        )
    except NeuronXError as error:
        WEBHOOKS.labels(error.code).inc()
        _log_refusal(error, tenant_id, source_id)
        return problem_from(error, instance=request.url.path)

    WEBHOOKS.labels(admission.status).inc()
    answer: dict[str, str] = {
        "event_id": admission.event_id,
        "status": admission.status,
    }
    if admission.trace_id is not None:
        answer["trace_id"] = admission.trace_id
    return Response(
        orjson.dumps(answer),
        status_code=_STATUS[admission.status],
        media_type="application/json",
    )


async def read_body(request: Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes; a larger body is refused before it is buffered."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise InvalidRequest("Content-Length is not a number")
        if int(declared) > limit:
            raise PayloadTooLarge(f"the body is over {limit} bytes")

    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit} bytes")
        chunks.append(chunk)
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
