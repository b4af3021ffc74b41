"""Rotating a source's signing secret: over HTTP and the CLI, with a grace period."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from neuronx.api.state import AppState
from neuronx.store.db import Database
from neuronx.store.secretbox import SecretBox
from tests.support import (
    ACME_KEY,
    ADMIN_TOKEN,
    GLOBEX_KEY,
    SW_SECRET,
    LiveServer,
    apply,
    base_config,
    live_server,
    signed_headers,
)

LEAD = {"type": "lead.created", "data": {"email": "ada@example.com"}}
ROTATE = "/v1/tenants/{tenant}/sources/{source}/secrets/rotate"
GRACE = 3600


class Clock:
    """The receiver's clock; tests move it forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rotating(db: Database, box: SecretBox, clock: Clock) -> Iterator[LiveServer]:
    apply(db, box, base_config())
    state = AppState.build(db, box, admin_token=ADMIN_TOKEN, clock=clock)
    with live_server(state) as live:
        yield live


def rotate(
    server: LiveServer,
    body: Any = None,
    *,
    tenant: str = "acme",
    source: str = "forms",
    token: str = ACME_KEY,
    content: bytes | None = None,
) -> httpx.Response:
    if content is None:
        content = json.dumps(
            {"grace_seconds": GRACE} if body is None else body
        ).encode()
    return httpx.post(
        server.url + ROTATE.format(tenant=tenant, source=source),
        content=content,
        headers={
            "authorization": f"Bearer {token}",
            "content-type": "application/json",
        },
    )


def rotated_secret(server: LiveServer, grace: int = GRACE) -> str:
    response = rotate(server, {"grace_seconds": grace})
    assert response.status_code == 200, response.text
    return str(response.json()["secret"])


def deliver(server: LiveServer, secret: str, clock: Clock | None = None) -> int:
    """Status of a fresh webhook signed with ``secret`` at the receiver's time."""
    body = json.dumps(LEAD).encode()
    now = clock() if clock is not None else time.time()
    headers = signed_headers(
        "forms",
        body,
        secret=secret,
        timestamp=int(now),
        message_id=f"msg_{uuid.uuid4().hex}",
    )
    response = httpx.post(server.hook("forms"), content=body, headers=headers)
    if response.status_code == 401:
        assert response.json()["code"] == "signature_invalid", response.text
    return response.status_code


def parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None
    return parsed


def test_rotation_keeps_the_old_secret_for_the_grace_period(
    rotating: LiveServer, clock: Clock
) -> None:
    started = time.time()
    response = rotate(rotating, {"grace_seconds": GRACE})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert set(answer) == {"secret", "previous_expires_at"}
    new = answer["secret"]
    assert new.startswith("whsec_")
    assert new != SW_SECRET
    expires = parse_time(answer["previous_expires_at"]).timestamp()
    assert started + GRACE - 1 <= expires <= time.time() + GRACE + 1

    assert deliver(rotating, SW_SECRET, clock) == 202
    assert deliver(rotating, new, clock) == 202

    clock.advance(GRACE + 5)
    assert deliver(rotating, SW_SECRET, clock) == 401
    assert deliver(rotating, new, clock) == 202


def test_rotating_again_leaves_at_most_two_secrets(
    rotating: LiveServer, clock: Clock
) -> None:
    first = rotated_secret(rotating)
    second = rotated_secret(rotating)

    assert len({SW_SECRET, first, second}) == 3
    assert deliver(rotating, SW_SECRET, clock) == 401
    assert deliver(rotating, first, clock) == 202
    assert deliver(rotating, second, clock) == 202

    clock.advance(GRACE + 5)
    assert deliver(rotating, first, clock) == 401
    assert deliver(rotating, second, clock) == 202

    # Without grace, the previous secret stops at once.
    started = time.time()
    response = rotate(rotating, {"grace_seconds": 0})
    assert response.status_code == 200, response.text
    expires = parse_time(response.json()["previous_expires_at"]).timestamp()
    assert started - 1 <= expires <= time.time() + 1
    assert deliver(rotating, second, clock) == 401
    assert deliver(rotating, response.json()["secret"], clock) == 202


def test_bad_grace_periods_and_bodies_are_refused(rotating: LiveServer) -> None:
    bodies: list[Any] = [
        {"grace_seconds": -1},
        {"grace_seconds": "60"},
        {"grace_seconds": 2_592_001},
        {"grace_seconds": 1.5},
        {"grace_seconds": True},
        [],
        "60",
    ]
    answers = {json.dumps(body): rotate(rotating, body) for body in bodies}
    answers["not json"] = rotate(rotating, content=b"{not json")
    wrong = {
        name: (r.status_code, r.text)
        for name, r in answers.items()
        if r.status_code != 400
        or r.headers["content-type"] != "application/problem+json"
        or r.json()["code"] != "invalid_request"
    }

    assert wrong == {}
    # Nothing was rotated.
    assert deliver(rotating, SW_SECRET) == 202

    # The largest grace period is accepted.
    started = time.time()
    largest = rotate(rotating, {"grace_seconds": 2_592_000})
    assert largest.status_code == 200, largest.text
    expires = parse_time(largest.json()["previous_expires_at"]).timestamp()
    assert started + 2_592_000 - 1 <= expires <= time.time() + 2_592_000 + 1


def test_who_may_rotate_what(
    rotating: LiveServer,
) -> None:
    answers = {
        "unknown source": rotate(rotating, source="nope"),
        "unknown tenant": rotate(rotating, tenant="nobody", token=ADMIN_TOKEN),
        "foreign key": rotate(rotating, token=GLOBEX_KEY),
        "globex has no such source": rotate(
            rotating, tenant="globex", token=GLOBEX_KEY
        ),
    }
    for name, response in answers.items():
        assert response.status_code == 404, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "not_found", name

    no_token = httpx.post(
        rotating.url + ROTATE.format(tenant="acme", source="forms"), json={}
    )
    assert no_token.status_code == 401
    assert no_token.json()["code"] == "unauthorized"
    assert deliver(rotating, SW_SECRET) == 202

    # The operator may rotate any tenant's source.
    by_admin = rotate(rotating, {"grace_seconds": 60}, token=ADMIN_TOKEN)
    assert by_admin.status_code == 200, by_admin.text
    assert deliver(rotating, by_admin.json()["secret"]) == 202


def test_reapplying_the_config_keeps_the_rotated_secret(
    rotating: LiveServer, db: Database, box: SecretBox, clock: Clock
) -> None:
    new = rotated_secret(rotating)

    apply(db, box, base_config())
    rotating.state.directory.refresh()

    assert deliver(rotating, new, clock) == 202
    assert deliver(rotating, SW_SECRET, clock) == 202
    clock.advance(GRACE + 5)
    assert deliver(rotating, new, clock) == 202


def neuronx_script() -> str:
    return str(Path(sys.executable).parent / "neuronx")


def test_cli_rotation_is_picked_up_by_the_server(
    rotating: LiveServer, store_url: str, tmp_path: Path
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("NEURONX_")
    }
    env["NEURONX_DATABASE_URL"] = store_url
    env["NEURONX_SECRET_KEY"] = "test-secret-key"

    result = subprocess.run(
        [neuronx_script(), "secrets", "rotate", "acme", "forms", "--grace", "60"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    secret_lines = [
        line for line in result.stdout.splitlines() if line.startswith("secret: ")
    ]
    assert len(secret_lines) == 1, result.stdout
    new = secret_lines[0].removeprefix("secret: ").strip()
    assert new.startswith("whsec_")

    rotating.state.directory.refresh()
    assert deliver(rotating, new) == 202
    assert deliver(rotating, SW_SECRET) == 202
