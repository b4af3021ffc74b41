"""Nothing answered 202 is lost, even when the server is killed with SIGKILL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from sqlalchemy import select

from neuronx.store import schema
from neuronx.store.db import Database
from tests.acceptance.processes import Server, write_config
from tests.support import base_config, signed_headers


async def deliver(server: Server, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(n: int) -> httpx.Response:
            body = json.dumps({"type": "lead.created", "data": {"n": n}}).encode()
            headers = signed_headers("forms", body, message_id=f"msg_crash_{n}")
            return await client.post(
                server.hook("forms"), content=body, headers=headers
            )

        return await asyncio.gather(*(one(n) for n in range(count)))


def test_sigkill_right_after_202s_keeps_every_accepted_event(
    store_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, base_config())
    server = Server(store_url, config, tmp_path)

    responses = asyncio.run(deliver(server, 300))
    server.kill()

    accepted = {r.json()["event_id"] for r in responses if r.status_code == 202}
    assert len(accepted) == 300
    db = Database(store_url)
    try:
        with db.read() as conn:
            stored = {row.id for row in conn.execute(select(schema.events.c.id)).all()}
            jobs = conn.execute(select(schema.jobs.c.event_id)).all()
    finally:
        db.dispose()
    assert accepted <= stored
    assert accepted <= {row.event_id for row in jobs}


def test_restart_after_sigkill_answers_duplicates_for_accepted_events(
    store_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, base_config())
    first = Server(store_url, config, tmp_path)
    responses = asyncio.run(deliver(first, 50))
    first.kill()

    second = Server(store_url, config, tmp_path)
    try:
        again = asyncio.run(deliver(second, 50))
    finally:
        assert second.terminate() == 0

    assert [r.status_code for r in again] == [200] * 50
    assert [r.json()["event_id"] for r in again] == [
        r.json()["event_id"] for r in responses
    ]
