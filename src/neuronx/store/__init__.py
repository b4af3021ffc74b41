"""Storage: one schema for SQLite and PostgreSQL, migrations, secrets at rest."""

from neuronx.store.db import Database, database_url_from_env

__all__ = ["Database", "database_url_from_env"]
