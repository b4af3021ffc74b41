"""The tables, as SQLAlchemy Core metadata shared by SQLite and PostgreSQL.

Times are stored as epoch seconds (double precision): one representation on
both databases, cheap to compare in the queue's hot queries, rendered as
RFC 3339 only at the HTTP edge.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# A SQLite INTEGER PRIMARY KEY must be spelled INTEGER to alias the rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")

config_state = Table(
    "config_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("settings", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

plans = Table(
    "plans",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("plan_id", String(64)),
    Column("api_key_hash", String(64), unique=True),
    Column("overrides", JSON, nullable=False),
    Column("scoring", JSON, nullable=False),
    Column("routing", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

sources = Table(
    "sources",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("scheme", String(32), nullable=False),
    Column("events", JSON),
    Column("mapping", JSON, nullable=False),
    Column("default_region", String(2)),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

source_secrets = Table(
    "source_secrets",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("source_id", String(64), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    # "config" secrets follow the config file; "rotation" ones were made by
    # `secrets rotate` and survive a re-apply of the file.
    Column("origin", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
    ForeignKeyConstraint(
        ["tenant_id", "source_id"],
        ["sources.tenant_id", "sources.id"],
        ondelete="CASCADE",
    ),
    Index(None, "tenant_id", "source_id"),
)

reps = Table(
    "reps",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("team", String(64), nullable=False),
    Column("weight", Integer, nullable=False),
    Column("capacity_per_day", Integer),
    Column("timezone", String(64), nullable=False),
    Column("working_hours", String(16)),
    Column("available", Boolean, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

destinations = Table(
    "destinations",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("events", JSON, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

events = Table(
    "events",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("source_id", String(64), nullable=False),
    Column("type", String(128)),
    Column("idempotency_key", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("traceparent", String(64), nullable=False),
    Column("lead_id", String(32)),
    Column("last_error", Text),
    Column("received_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index(None, "tenant_id", "received_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("source_id", String(64), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("event_id", String(32), nullable=False),
    Column("expires_at", Float, nullable=False),
    Index(None, "expires_at"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("queue", String(64), nullable=False),
    Column("task", String(64), nullable=False),
    Column("tenant_id", String(64)),
    Column("event_id", String(32)),
    Column("args", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("run_at", Float, nullable=False),
    Column("lease_expires_at", Float),
    Column("worker_id", String(64)),
    Column("traceparent", String(64)),
    Column("errors", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float),
    Index(None, "status", "queue", "run_at"),
    Index(None, "status", "lease_expires_at"),
    Index(None, "event_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64)),
    Column("at", Float, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(256)),
    Column("detail", JSON, nullable=False),
    Index(None, "tenant_id", "id"),
)

leads = Table(
    "leads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("email", String(320)),
    Column("phone", String(32)),
    Column("domain", String(255)),
    Column("fields", JSON, nullable=False),
    Column("raw", JSON, nullable=False),
    Column("score", Integer),
    Column("grade", String(16)),
    Column("scoring", JSON),
    Column("status", String(16), nullable=False),
    Column("assigned_to", String(64)),
    Column("team", String(64)),
    Column("routing", JSON),
    Column("history", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # One lead per email per tenant: two workers merging the same new address
    # at once collide here, and the loser retries into a merge.
    Index(None, "tenant_id", "email", unique=True),
    Index(None, "tenant_id", "phone"),
    # The newest owner of a company domain, for sticky routing.
    Index(None, "tenant_id", "domain", "updated_at"),
    Index(None, "tenant_id", "assigned_to"),
    Index(None, "tenant_id", "status"),
)

rep_loads = Table(
    "rep_loads",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("rep_id", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("assigned", Integer, nullable=False),
)

routing_state = Table(
    "routing_state",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)
