"""The lead pipeline's tasks, subscribed to the topics of the event bus."""

from __future__ import annotations

import time

from neuronx.queue.tasks import JobContext, Registry, Task
from neuronx.store.events import mark_event_dead, set_event_status

RECEIVED = "lead.received"
QUEUE = "leads"


def process_received(ctx: JobContext) -> None:
    """Carry a received event through the pipeline and mark it done."""
    if ctx.event_id is None:
        return
    with ctx.db.write() as conn:
        set_event_status(conn, ctx.event_id, "done", now=time.time())


def register(registry: Registry) -> None:
    registry.add(
        Task("leads.process", QUEUE, process_received, on_dead=mark_event_dead),
        subscribe=(RECEIVED,),
    )
