"""Tasks, the registry that names them, and topics they subscribe to.

A *task* is a definition (a name, a queue, a handler); a *job* is one call of
it, stored in the ``jobs`` table; an *attempt* is one try of a job. A *topic*
is a name that producers publish to (``lead.received``); each task that
subscribes to a topic gets its own job per publication, so one failing
subscriber neither blocks nor re-runs another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from neuronx.queue.retry import RetryPolicy
from neuronx.store.db import Database

__all__ = ["JobContext", "Registry", "Task"]


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler gets: the job's identity, arguments and the store."""

    job_id: int
    task: str
    queue: str
    attempt: int
    max_attempts: int
    args: dict[str, Any]
    tenant_id: str | None
    event_id: str | None
    traceparent: str | None
    db: Database
    registry: Registry
    committed: list[Callable[[], None]] = field(default_factory=list)

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this job's effects are committed, never before.

        An atomic job can run more than once before its transaction commits
        (a batch is rerun when one of its jobs fails), so anything outside the
        database, such as a metric, belongs here.
        """
        self.committed.append(callback)


Handler = Callable[[JobContext], None]
# Runs inside the transaction that also marks the job done: exactly-once effects.
AtomicHandler = Callable[[JobContext, Connection], None]
# Runs inside the transaction that dead-letters a job, to mark what it was for.
DeadHook = Callable[[Connection, Any, str], None]


@dataclass(frozen=True, slots=True)
class Task:
    """A named unit of work; exactly one of ``handler`` and ``atomic`` is set.

    ``handler`` runs on its own and must make its effects idempotent: a job
    can run again after a crash. ``atomic`` runs inside the worker's
    transaction, which marks the job done in the same commit, so its database
    effects happen once however often the job is tried.
    """

    name: str
    queue: str
    handler: Handler | None = None
    atomic: AtomicHandler | None = None
    retry: RetryPolicy | None = None
    on_dead: DeadHook | None = None

    def __post_init__(self) -> None:
        if (self.handler is None) == (self.atomic is None):
            raise ValueError(f"task {self.name!r} needs exactly one of handler, atomic")


@dataclass
class Registry:
    tasks: dict[str, Task] = field(default_factory=dict)
    subscriptions: dict[str, list[str]] = field(default_factory=dict)

    def add(self, task: Task, *, subscribe: tuple[str, ...] = ()) -> Task:
        if task.name in self.tasks:
            raise ValueError(f"task {task.name!r} is defined twice")
        self.tasks[task.name] = task
        for topic in subscribe:
            self.subscriptions.setdefault(topic, []).append(task.name)
        return task

    def subscribers(self, topic: str) -> list[Task]:
        return [self.tasks[name] for name in self.subscriptions.get(topic, [])]

    @property
    def queues(self) -> list[str]:
        return sorted({task.queue for task in self.tasks.values()})
