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


Handler = Callable[[JobContext], None]
# Runs inside the transaction that dead-letters a job, to mark what it was for.
DeadHook = Callable[[Connection, Any, str], None]


@dataclass(frozen=True, slots=True)
class Task:
    name: str
    queue: str
    handler: Handler
    retry: RetryPolicy | None = None
    on_dead: DeadHook | None = None


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
