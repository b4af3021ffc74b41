"""Group commit: concurrent requests share one transaction and one fsync.

Request handlers hand their verified events to one writer thread per process
and wait. The writer takes whatever is pending (up to ``max_batch``), admits
it in a single transaction (idempotency keys, event rows, the jobs that will
process them) and wakes every waiter with its own outcome. Under load a batch
grows by itself; at low load a batch is one event and the latency is one
commit.

If a batch fails, its events are retried one by one, so a single bad event
cannot fail its neighbours; when the database itself is down, each waiter
gets :class:`~neuronx.errors.StoreUnavailable` and answers 503.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from neuronx.errors import NeuronXError, StoreUnavailable
from neuronx.store import raw
from neuronx.store.db import Database
from neuronx.store.events import Admission, NewEvent, admit

__all__ = ["AdmitHook", "GroupCommitWriter"]

log = logging.getLogger("neuronx.ingest")

# Called inside the commit with the events and their admissions, so work that
# must be atomic with the event (jobs now, usage counters later) joins it.
AdmitHook = Callable[[Connection, Sequence[NewEvent], list[Admission], float], None]


@dataclass(slots=True)
class _Pending:
    item: NewEvent
    future: asyncio.Future[Admission]
    loop: asyncio.AbstractEventLoop


_STOP = object()
# A waiting request's future and what to settle it with.
_Outcome = tuple[asyncio.Future[Admission], Admission | NeuronXError]


class GroupCommitWriter:
    def __init__(
        self,
        db: Database,
        *,
        ttl_seconds: Callable[[], int],
        hooks: Sequence[AdmitHook] = (),
        after_commit: Callable[[], None] | None = None,
        max_batch: int = 128,
    ) -> None:
        self._db = db
        self._ttl_seconds = ttl_seconds
        self._hooks = tuple(hooks)
        self._after_commit = after_commit
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, name="neuronx-group-commit", daemon=True
        )
        self.batches = 0
        self.events = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Commit what is pending, then end the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    async def submit(self, item: NewEvent) -> Admission:
        """Wait until ``item`` is committed (or refused as a duplicate)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Admission] = loop.create_future()
        self._queue.put(_Pending(item, future, loop))
        # Shielded: a client that hangs up does not cancel the commit, and a
        # sender that retries then gets its duplicate answer.
        return await asyncio.shield(future)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stopping = False
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stopping = True
                    break
                batch.append(more)
            self._commit([p for p in batch if isinstance(p, _Pending)])
            if stopping:
                return

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            outcomes: list[Admission | NeuronXError] = list(self._transaction(batch))
        except NeuronXError as exc:
            if len(batch) == 1:
                outcomes = [exc]
            else:
                outcomes = [self._one_by_one(pending) for pending in batch]
        except Exception:
            log.exception(
                "The group commit failed unexpectedly",
                extra={"action": "group_commit_failed", "batch": len(batch)},
            )
            outcomes = [StoreUnavailable("the commit failed")] * len(batch)
        # One wake-up per event loop for the whole batch, not one per event:
        # each call_soon_threadsafe writes to the loop's wake-up pipe.
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for pending, outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(pending.loop, []).append((pending.future, outcome))
        for loop, resolved in by_loop.items():
            loop.call_soon_threadsafe(_resolve_all, resolved)

    def _one_by_one(self, pending: _Pending) -> Admission | NeuronXError:
        try:
            return self._transaction([pending])[0]
        except NeuronXError as exc:
            return exc

    def _transaction(self, batch: list[_Pending]) -> list[Admission]:
        items = [pending.item for pending in batch]
        now = time.time()
        # Pipelined: after the key claim, the rows and the jobs go to the
        # server in one round trip on PostgreSQL.
        with self._db.write() as conn, raw.pipelined(conn):
            admissions = admit(conn, items, ttl_seconds=self._ttl_seconds(), now=now)
            for hook in self._hooks:
                hook(conn, items, admissions, now)
        self.batches += 1
        self.events += len(items)
        if self._after_commit is not None:
            self._after_commit()
        return admissions


def _resolve_all(resolved: list[_Outcome]) -> None:
    for future, outcome in resolved:
        if future.done():
            continue
        if isinstance(outcome, NeuronXError):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
