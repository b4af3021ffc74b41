"""The Starlette application: routes, error mapping, lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from neuronx.api.hooks import HookFastPath, receive_webhook
from neuronx.api.leads import (
    audit_route,
    get_lead_route,
    list_leads_route,
    simulate_route,
)
from neuronx.api.middleware import RequestMetrics
from neuronx.api.openapi import openapi_document
from neuronx.api.problems import problem, problem_from
from neuronx.api.state import AppState
from neuronx.api.tenants import (
    get_dead_letter_route,
    get_event_route,
    json_response,
    list_dead_letters_route,
    replay_dead_letter_route,
    replay_dead_letters_route,
    rotate_secret_route,
)
from neuronx.errors import NeuronXError
from neuronx.observability.metrics import REGISTRY

log = logging.getLogger("neuronx.api")

_HTTP_CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def create_app(state: AppState) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    app = Starlette(
        routes=_routes(),
        # The hook route's fast path first: it measures its own requests.
        middleware=[Middleware(HookFastPath, state=state), Middleware(RequestMetrics)],
        exception_handlers={
            NeuronXError: _neuronx_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
        lifespan=lifespan,
    )
    app.state.neuronx = state
    return app


def _routes() -> list[Route]:
    tenant = "/v1/tenants/{tenant_id}"
    return [
        Route("/v1/hooks/{tenant_id}/{source_id}", receive_webhook, methods=["POST"]),
        Route(f"{tenant}/events/{{event_id}}", get_event_route, methods=["GET"]),
        Route(
            f"{tenant}/sources/{{source_id}}/secrets/rotate",
            rotate_secret_route,
            methods=["POST"],
        ),
        Route(f"{tenant}/leads", list_leads_route, methods=["GET"]),
        Route(f"{tenant}/leads/{{lead_id}}", get_lead_route, methods=["GET"]),
        Route(f"{tenant}/routing/simulate", simulate_route, methods=["POST"]),
        Route(f"{tenant}/audit", audit_route, methods=["GET"]),
        Route(f"{tenant}/dead-letters", list_dead_letters_route, methods=["GET"]),
        Route(
            f"{tenant}/dead-letters/replay",
            replay_dead_letters_route,
            methods=["POST"],
        ),
        Route(
            f"{tenant}/dead-letters/{{dead_letter_id}}",
            get_dead_letter_route,
            methods=["GET"],
        ),
        Route(
            f"{tenant}/dead-letters/{{dead_letter_id}}/replay",
            replay_dead_letter_route,
            methods=["POST"],
        ),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    state: AppState = request.app.state.neuronx
    try:
        await asyncio.to_thread(state.db.ping)
    except NeuronXError as error:
        return problem(503, "unavailable", "The store is unreachable", error.detail)
    return json_response({"status": "ready"})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    return json_response(openapi_document())


async def _neuronx_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NeuronXError)
    return problem_from(exc, instance=request.url.path)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return problem(
        exc.status_code,
        code,
        exc.detail,
        instance=request.url.path,
        headers=dict(exc.headers or {}),
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.error(
        "Unexpected error while answering a request",
        exc_info=exc,
        extra={"action": "request_failed", "path": request.url.path},
    )
    return problem(500, "internal_error", "Internal error", instance=request.url.path)
