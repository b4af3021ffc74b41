"""Tenants, plans, sources and their secrets: applying a config, reading it back.

``apply`` is declarative for what the file names: each tenant and plan in the
file is created or replaced, and within a tenant its sources, reps and
destinations become exactly the file's lists. Tenants and plans the file does
not name are left alone. Secrets made by ``secrets rotate`` survive a re-apply,
so rotating from the command line and restarting with ``--config`` does not
revoke the new secret.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from neuronx.config import Config, Settings, Tenant
from neuronx.errors import NotFound
from neuronx.ingest.signatures import Scheme, decode_secret
from neuronx.store import schema
from neuronx.store.db import Database
from neuronx.store.secretbox import SecretBox

__all__ = [
    "ActiveSecret",
    "Directory",
    "SourceEntry",
    "apply_config",
    "hash_api_key",
    "load_directory",
    "load_settings",
    "rotate_secret",
]


@dataclass(frozen=True, slots=True)
class ActiveSecret:
    key: bytes
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class SourceEntry:
    tenant_id: str
    source_id: str
    scheme: Scheme
    secrets: tuple[ActiveSecret, ...]
    events: frozenset[str] | None

    def keys_at(self, now: float) -> list[bytes]:
        return [
            s.key for s in self.secrets if s.expires_at is None or s.expires_at > now
        ]


@dataclass(frozen=True, slots=True)
class Directory:
    """What the receiver needs in memory: sources, keys, settings, API keys."""

    version: int
    settings: Settings
    sources: Mapping[tuple[str, str], SourceEntry]
    tenants: frozenset[str]
    api_keys: Mapping[str, str]


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def current_version(conn: Connection) -> int:
    row = conn.execute(select(schema.config_state.c.version)).first()
    return int(row[0]) if row else 0


def apply_config(db: Database, box: SecretBox, config: Config, *, actor: str) -> int:
    """Write a validated config in one transaction; return the new config version."""
    now = time.time()
    with db.write() as conn:
        _write_settings(conn, config.settings, now)
        for plan in config.plans:
            _upsert(
                conn,
                schema.plans,
                {"id": plan.id},
                {"definition": plan.model_dump(mode="json"), "updated_at": now},
            )
        for tenant in config.tenants:
            _apply_tenant(conn, box, tenant, now)
        version = _bump_version(conn, now)
        _audit(
            conn,
            None,
            actor,
            "config.applied",
            None,
            {
                "version": version,
                "tenants": [t.id for t in config.tenants],
                "plans": [p.id for p in config.plans],
            },
        )
    return version


def rotate_secret(
    db: Database,
    box: SecretBox,
    tenant_id: str,
    source_id: str,
    *,
    grace_seconds: int,
    actor: str,
) -> tuple[str, float | None]:
    """Add a new secret; the newest old one stays valid for ``grace_seconds``.

    Returns the new secret and when the previous one stops verifying. Older
    secrets than the previous one expire at once, so at most two verify.
    """
    now = time.time()
    with db.write() as conn:
        source = conn.execute(
            select(schema.sources.c.scheme).where(
                schema.sources.c.tenant_id == tenant_id,
                schema.sources.c.id == source_id,
            )
        ).first()
        if source is None:
            raise NotFound(f"no source {source_id!r} for tenant {tenant_id!r}")

        secret = _new_secret(Scheme(source.scheme))
        previous_expires_at = _expire_previous(
            conn, tenant_id, source_id, now, grace_seconds
        )
        conn.execute(
            insert(schema.source_secrets).values(
                tenant_id=tenant_id,
                source_id=source_id,
                ciphertext=box.seal(secret),
                origin="rotation",
                created_at=now,
                expires_at=None,
            )
        )
        _bump_version(conn, now)
        _audit(
            conn,
            tenant_id,
            actor,
            "secret.rotated",
            f"sources/{source_id}",
            {
                "grace_seconds": grace_seconds,
                "previous_expires_at": previous_expires_at,
            },
        )
    return secret, previous_expires_at


def load_settings(db: Database) -> Settings:
    with db.read() as conn:
        row = conn.execute(select(schema.config_state.c.settings)).first()
    return Settings.model_validate(row[0]) if row else Settings()


def load_directory(db: Database, box: SecretBox) -> Directory:
    """Read every source with its active keys, in one read transaction."""
    now = time.time()
    with db.read() as conn:
        version = current_version(conn)
        settings_row = conn.execute(select(schema.config_state.c.settings)).first()
        settings = (
            Settings.model_validate(settings_row[0]) if settings_row else Settings()
        )
        tenant_rows = conn.execute(
            select(schema.tenants.c.id, schema.tenants.c.api_key_hash)
        ).all()
        secret_rows = conn.execute(
            select(schema.source_secrets).where(
                (schema.source_secrets.c.expires_at.is_(None))
                | (schema.source_secrets.c.expires_at > now)
            )
        ).all()
        source_rows = conn.execute(select(schema.sources)).all()

    keys: dict[tuple[str, str], list[ActiveSecret]] = {}
    schemes = {(r.tenant_id, r.id): Scheme(r.scheme) for r in source_rows}
    for row in secret_rows:
        ident = (row.tenant_id, row.source_id)
        if ident in schemes:
            key = decode_secret(schemes[ident], box.open(row.ciphertext))
            keys.setdefault(ident, []).append(ActiveSecret(key, row.expires_at))
    sources = {
        (r.tenant_id, r.id): SourceEntry(
            tenant_id=r.tenant_id,
            source_id=r.id,
            scheme=Scheme(r.scheme),
            secrets=tuple(keys.get((r.tenant_id, r.id), ())),
            events=frozenset(r.events) if r.events is not None else None,
        )
        for r in source_rows
    }
    return Directory(
        version=version,
        settings=settings,
        sources=sources,
        tenants=frozenset(r.id for r in tenant_rows),
        api_keys={r.api_key_hash: r.id for r in tenant_rows if r.api_key_hash},
    )


def _apply_tenant(conn: Connection, box: SecretBox, tenant: Tenant, now: float) -> None:
    dumped = tenant.model_dump(mode="json", by_alias=True, exclude_unset=True)
    _upsert(
        conn,
        schema.tenants,
        {"id": tenant.id},
        {
            "plan_id": tenant.plan,
            "api_key_hash": hash_api_key(tenant.api_key) if tenant.api_key else None,
            "overrides": dumped.get("overrides", {}),
            "scoring": dumped.get("scoring", {}),
            "routing": dumped.get("routing", {}),
            "updated_at": now,
        },
    )
    keep = [s.id for s in tenant.sources]
    conn.execute(
        delete(schema.sources).where(
            schema.sources.c.tenant_id == tenant.id, schema.sources.c.id.not_in(keep)
        )
    )
    for source in tenant.sources:
        _upsert(
            conn,
            schema.sources,
            {"tenant_id": tenant.id, "id": source.id},
            {
                "scheme": source.scheme.value,
                "events": source.events,
                "mapping": source.mapping,
                "default_region": source.default_region,
            },
        )
        _apply_secrets(conn, box, tenant.id, source.id, source.secrets, now)

    conn.execute(delete(schema.reps).where(schema.reps.c.tenant_id == tenant.id))
    if tenant.reps:
        conn.execute(
            insert(schema.reps),
            [{"tenant_id": tenant.id, **rep.model_dump()} for rep in tenant.reps],
        )
    conn.execute(
        delete(schema.destinations).where(schema.destinations.c.tenant_id == tenant.id)
    )
    if tenant.destinations:
        conn.execute(
            insert(schema.destinations),
            [
                {
                    "tenant_id": tenant.id,
                    "id": d.id,
                    "url": d.url,
                    "secret_ciphertext": box.seal(d.secret),
                    "events": d.events,
                }
                for d in tenant.destinations
            ],
        )


def _apply_secrets(
    conn: Connection,
    box: SecretBox,
    tenant_id: str,
    source_id: str,
    wanted: list[str],
    now: float,
) -> None:
    table = schema.source_secrets
    rows = conn.execute(
        select(table.c.id, table.c.ciphertext, table.c.origin).where(
            table.c.tenant_id == tenant_id,
            table.c.source_id == source_id,
            (table.c.expires_at.is_(None)) | (table.c.expires_at > now),
        )
    ).all()
    present = {box.open(row.ciphertext): row for row in rows}
    for plaintext, row in present.items():
        if row.origin == "config" and plaintext not in wanted:
            conn.execute(
                update(table).where(table.c.id == row.id).values(expires_at=now)
            )
    for secret in wanted:
        if secret not in present:
            conn.execute(
                insert(table).values(
                    tenant_id=tenant_id,
                    source_id=source_id,
                    ciphertext=box.seal(secret),
                    origin="config",
                    created_at=now,
                    expires_at=None,
                )
            )


def _expire_previous(
    conn: Connection, tenant_id: str, source_id: str, now: float, grace_seconds: int
) -> float | None:
    table = schema.source_secrets
    rows = conn.execute(
        select(table.c.id, table.c.expires_at)
        .where(
            table.c.tenant_id == tenant_id,
            table.c.source_id == source_id,
            (table.c.expires_at.is_(None)) | (table.c.expires_at > now),
        )
        .order_by(table.c.created_at.desc(), table.c.id.desc())
    ).all()
    if not rows:
        return None
    newest, older = rows[0], rows[1:]
    until = now + grace_seconds
    if newest.expires_at is not None:
        until = min(until, newest.expires_at)
    conn.execute(update(table).where(table.c.id == newest.id).values(expires_at=until))
    if older:
        conn.execute(
            update(table)
            .where(table.c.id.in_([row.id for row in older]))
            .values(expires_at=now)
        )
    return until


def _new_secret(scheme: Scheme) -> str:
    if scheme in (Scheme.STANDARD_WEBHOOKS, Scheme.STRIPE):
        return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_hex(32)


def _write_settings(conn: Connection, settings: Settings, now: float) -> None:
    _upsert(
        conn,
        schema.config_state,
        {"id": 1},
        {"settings": settings.model_dump(mode="json"), "updated_at": now},
        insert_only={"version": 0},
    )


def _bump_version(conn: Connection, now: float) -> int:
    table = schema.config_state
    if conn.execute(select(table.c.id)).first() is None:
        conn.execute(
            insert(table).values(
                id=1,
                version=0,
                settings=Settings().model_dump(mode="json"),
                updated_at=now,
            )
        )
    conn.execute(
        update(table).where(table.c.id == 1).values(version=table.c.version + 1)
    )
    return current_version(conn)


def _upsert(
    conn: Connection,
    table: Any,
    key: dict[str, Any],
    values: dict[str, Any],
    insert_only: dict[str, Any] | None = None,
) -> None:
    condition = [table.c[name] == value for name, value in key.items()]
    result = conn.execute(update(table).where(*condition).values(**values))
    if result.rowcount == 0:
        conn.execute(insert(table).values(**key, **values, **(insert_only or {})))


def _audit(
    conn: Connection,
    tenant_id: str | None,
    actor: str,
    action: str,
    subject: str | None,
    detail: dict[str, Any],
) -> None:
    conn.execute(
        insert(schema.audit_log).values(
            tenant_id=tenant_id,
            at=time.time(),
            actor=actor,
            action=action,
            subject=subject,
            detail=detail,
        )
    )
