"""Alembic environment: runs on the connection that `Database.migrate` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from neuronx.store.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through `neuronx migrate`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
