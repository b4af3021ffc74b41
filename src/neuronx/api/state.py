"""What the HTTP handlers share: the store, the cached directory, the writer."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection

from neuronx.errors import NeuronXError, NotFound, Unauthorized
from neuronx.ingest.receiver import Receiver
from neuronx.ingest.writer import GroupCommitWriter
from neuronx.leads.pipeline import RECEIVED, LeadPipeline
from neuronx.queue.jobs import Message, publish
from neuronx.queue.retry import RetryPolicy
from neuronx.queue.tasks import Registry
from neuronx.queue.worker import Wakeup, Worker, refresh_queue_gauges
from neuronx.runtime import build_registry
from neuronx.store.db import Database
from neuronx.store.events import Admission, NewEvent, sweep_idempotency_keys
from neuronx.store.secretbox import SecretBox
from neuronx.store.tenants import (
    Directory,
    current_version,
    hash_api_key,
    load_directory,
)

log = logging.getLogger("neuronx.api")

AsyncJob = Callable[[], Awaitable[None]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DirectoryCache:
    """The directory in memory, reloaded when another process changes the config.

    Checking costs one tiny read per ``interval``; a reload happens only when
    the version row moved (an apply or a rotation anywhere).
    """

    def __init__(self, db: Database, box: SecretBox) -> None:
        self._db = db
        self._box = box
        self.current: Directory = load_directory(db, box)

    def get(self) -> Directory:
        return self.current

    def refresh(self, *, force: bool = False) -> None:
        if not force:
            with self._db.read() as conn:
                if current_version(conn) == self.current.version:
                    return
        self.current = load_directory(self._db, self._box)


@dataclass
class AppState:
    db: Database
    box: SecretBox
    directory: DirectoryCache
    writer: GroupCommitWriter
    receiver: Receiver
    admin_token: str | None
    worker: Worker | None = None
    registry: Registry = field(default_factory=Registry)
    pipeline: LeadPipeline = field(default_factory=LeadPipeline)
    refresh_interval: float = 1.0
    sweep_interval: float = 60.0
    drain_seconds: float = 20.0
    gauge_interval: float = 5.0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        db: Database,
        box: SecretBox,
        *,
        admin_token: str | None,
        clock: Callable[[], float] = time.time,
        registry: Registry | None = None,
        workers: int = 0,
        lead_clock: Callable[[], datetime] | None = None,
    ) -> AppState:
        """Wire the receiver, the writer and (with ``workers``) an embedded worker.

        Accepted events publish ``lead.received`` inside their commit, and the
        commit rings the embedded worker's doorbell.
        """
        directory = DirectoryCache(db, box)

        def retry() -> RetryPolicy:
            return RetryPolicy.from_settings(directory.current.settings.retry)

        pipeline = LeadPipeline(retry=retry, clock=lead_clock or _utc_now)
        registry = registry or build_registry(pipeline)
        wakeup = Wakeup()

        def publish_received(
            conn: Connection,
            items: Sequence[NewEvent],
            admissions: list[Admission],
            now: float,
        ) -> None:
            messages: list[Message] = [
                (item.tenant_id, item.event_id, item.traceparent, {})
                for item, admission in zip(items, admissions, strict=True)
                if admission.status == "accepted"
            ]
            if messages:
                publish(
                    conn,
                    registry,
                    RECEIVED,
                    now=now,
                    default_retry=retry(),
                    messages=messages,
                )

        writer = GroupCommitWriter(
            db,
            ttl_seconds=lambda: directory.current.settings.idempotency_ttl_seconds,
            hooks=(publish_received,),
            after_commit=wakeup.ring,
        )
        worker = None
        if workers > 0:
            worker = Worker(
                db,
                registry,
                lambda: directory.current.settings,
                concurrency=workers,
                wakeup=wakeup,
            )
        return cls(
            db=db,
            box=box,
            directory=directory,
            writer=writer,
            receiver=Receiver(directory.get, writer, clock=clock),
            admin_token=admin_token,
            worker=worker,
            registry=registry,
            pipeline=pipeline,
        )

    async def start(self) -> None:
        self.writer.start()
        if self.worker is not None:
            self.worker.start()
        self._tasks.append(
            asyncio.create_task(self._every(self.refresh_interval, self._refresh))
        )
        self._tasks.append(
            asyncio.create_task(self._every(self.sweep_interval, self._sweep))
        )
        self._tasks.append(
            asyncio.create_task(self._every(self.gauge_interval, self._gauges))
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await asyncio.to_thread(self.writer.stop)
        if self.worker is not None:
            await asyncio.to_thread(self.worker.stop, self.drain_seconds)

    def authorize(self, token: str | None, tenant_id: str) -> str:
        """Return the actor name for ``token`` on ``tenant_id``'s routes."""
        if not token:
            raise Unauthorized()
        directory = self.directory.current
        if self.admin_token and hmac.compare_digest(
            token.encode(), self.admin_token.encode()
        ):
            if tenant_id not in directory.tenants:
                raise NotFound(f"no tenant {tenant_id!r}")
            return "admin"
        # Another tenant's key answers exactly like an unknown tenant, so a key
        # cannot be used to discover which tenants exist.
        if directory.api_keys.get(hash_api_key(token)) != tenant_id:
            raise NotFound(f"no tenant {tenant_id!r}")
        return f"tenant:{tenant_id}"

    def authorize_admin(self, token: str | None) -> str:
        if not token:
            raise Unauthorized()
        if self.admin_token and hmac.compare_digest(
            token.encode(), self.admin_token.encode()
        ):
            return "admin"
        raise Unauthorized("this route takes the operator's token")

    async def _refresh(self) -> None:
        await asyncio.to_thread(self.directory.refresh)

    async def _gauges(self) -> None:
        await asyncio.to_thread(refresh_queue_gauges, self.db, self.registry.queues)

    async def _sweep(self) -> None:
        def sweep(conn: Connection) -> int:
            return sweep_idempotency_keys(conn, time.time())

        def run() -> int:
            with self.db.write() as conn:
                return sweep(conn)

        swept = await asyncio.to_thread(run)
        if swept:
            log.info(
                "Expired idempotency keys swept",
                extra={"action": "idempotency_keys_swept", "count": swept},
            )

    @staticmethod
    async def _every(interval: float, job: AsyncJob) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await job()
            except NeuronXError as exc:
                log.warning(
                    "A background task could not reach the store",
                    extra={"action": "background_task_failed", "reason": exc.detail},
                )
