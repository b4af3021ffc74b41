"""Opening the store the way every command does: migrate, key, optional config."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from neuronx.config import load_config
from neuronx.leads.pipeline import LeadPipeline
from neuronx.queue.tasks import Registry
from neuronx.store.db import Database, database_url_from_env
from neuronx.store.secretbox import SecretBox, load_secret_key
from neuronx.store.tenants import apply_config


@dataclass(frozen=True, slots=True)
class Runtime:
    db: Database
    box: SecretBox
    admin_token: str | None


def open_runtime(
    *,
    config_path: Path | None = None,
    migrate: bool = True,
    database_url: str | None = None,
) -> Runtime:
    """Connect, migrate, load the secret key and apply ``config_path`` if given.

    ``config_path`` falls back to ``NEURONX_CONFIG``. The config is validated
    before the database is touched, so a bad file changes nothing.
    """
    path = config_path or _env_path("NEURONX_CONFIG")
    config = load_config(path) if path is not None else None

    db = Database(database_url or database_url_from_env())
    if migrate:
        db.migrate()
    box = SecretBox(load_secret_key(db.data_dir))
    if config is not None:
        apply_config(db, box, config, actor="config-file")
    return Runtime(
        db=db, box=box, admin_token=os.environ.get("NEURONX_ADMIN_TOKEN") or None
    )


def build_registry(pipeline: LeadPipeline) -> Registry:
    """Every task of the product, with the topics each subscribes to."""
    registry = Registry()
    pipeline.register(registry)
    return registry


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None
