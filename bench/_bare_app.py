"""The floor the ingest benchmark compares against: one Starlette route, no work.

It reads the body and answers 202 with a small JSON document, served by uvicorn
with the arguments ``neuronx serve`` passes, so the gap to NeuronX measures what
NeuronX itself does per request and not a difference in server settings.

Run as ``python bench/_bare_app.py --port PORT``.
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_ANSWER = b'{"event_id":"evt_bare","status":"accepted"}'


async def receive_webhook(request: Request) -> Response:
    await request.body()
    return Response(_ANSWER, status_code=202, media_type="application/json")


app = Starlette(
    routes=[
        Route("/v1/hooks/{tenant_id}/{source_id}", receive_webhook, methods=["POST"])
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The same arguments as neuronx.cli.main.serve; uvicorn then picks uvloop
    # and httptools on its own, as it does there.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
