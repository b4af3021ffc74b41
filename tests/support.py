"""Helpers shared by the test tiers: configs, signed requests, a live server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from neuronx.api import create_app
from neuronx.api.state import AppState
from neuronx.config import parse_config
from neuronx.ingest.signatures import Scheme, decode_secret, sign
from neuronx.store.db import Database
from neuronx.store.secretbox import SecretBox
from neuronx.store.tenants import apply_config

SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_SECRET_2 = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
STRIPE_SECRET = "whsec_stripe_test_secret_value"
HUB_SECRET = "hub-secret-value-for-tests"
SLACK_SECRET = "slack-signing-secret-for-tests"
ADMIN_TOKEN = "admin-token-for-tests"
ACME_KEY = "nx_acme_test_key_000"
GLOBEX_KEY = "nx_globex_test_key_00"


def base_config(**settings: Any) -> dict[str, Any]:
    """Two tenants, one source per scheme on ``acme``."""
    return {
        "settings": settings,
        "plans": [{"id": "starter", "limits": {"leads": {"limit": 1000}}}],
        "tenants": [
            {
                "id": "acme",
                "plan": "starter",
                "api_key": ACME_KEY,
                "sources": [
                    {
                        "id": "forms",
                        "scheme": "standard-webhooks",
                        "secrets": [SW_SECRET],
                        "events": ["lead.created"],
                    },
                    {
                        "id": "any",
                        "scheme": "standard-webhooks",
                        "secrets": [SW_SECRET],
                    },
                    {"id": "stripe", "scheme": "stripe", "secrets": [STRIPE_SECRET]},
                    {"id": "hub", "scheme": "hub-sha256", "secrets": [HUB_SECRET]},
                    {"id": "slack", "scheme": "slack", "secrets": [SLACK_SECRET]},
                ],
            },
            {"id": "globex", "api_key": GLOBEX_KEY, "sources": []},
        ],
    }


SECRETS = {
    "forms": (Scheme.STANDARD_WEBHOOKS, SW_SECRET),
    "any": (Scheme.STANDARD_WEBHOOKS, SW_SECRET),
    "stripe": (Scheme.STRIPE, STRIPE_SECRET),
    "hub": (Scheme.HUB_SHA256, HUB_SECRET),
    "slack": (Scheme.SLACK, SLACK_SECRET),
}


def signed_headers(
    source: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    message_id: str = "msg_test",
    secret: str | None = None,
) -> dict[str, str]:
    scheme, default_secret = SECRETS[source]
    key = decode_secret(scheme, secret or default_secret)
    ts = int(time.time()) if timestamp is None else timestamp
    headers = sign(scheme, key, body, timestamp=ts, message_id=message_id)
    headers["content-type"] = "application/json"
    return headers


def apply(db: Database, box: SecretBox, config: dict[str, Any]) -> None:
    apply_config(db, box, parse_config(config), actor="test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    state: AppState

    def hook(self, source: str, tenant: str = "acme") -> str:
        return f"{self.url}/v1/hooks/{tenant}/{source}"


@contextmanager
def live_server(state: AppState) -> Iterator[LiveServer]:
    """Serve ``state`` with uvicorn on a free loopback port, in a thread."""
    port = free_port()
    config = uvicorn.Config(
        create_app(state),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", state)
    finally:
        server.should_exit = True
        thread.join(10)
