"""Hand-written statements run on the driver, for the writes of every lead.

SQLAlchemy Core builds, caches and post-processes every statement it runs,
which costs more CPU than SQLite spends executing a small one. The lead
journey runs about twenty statements per lead, so its hot ones are written
once here, in SQL both dialects accept, with ``:name`` placeholders, and are
translated to each driver's placeholder style on first use. Everything else
(migrations, the API's reads, configuration) stays on Core.

JSON columns are encoded with orjson on the way in and decoded on the way
out; values are otherwise plain strings and numbers, which both drivers take
and return as they are. A trailing ``FOR UPDATE`` is dropped on SQLite, whose
single writer already holds every row until the commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import Connection

__all__ = ["Row", "Statement", "json_param"]

_PLACEHOLDER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


class Row:
    """One result row: attribute access by column name, like Core's rows."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, index: int) -> Any:
        return list(self._values.values())[index]

    def __repr__(self) -> str:
        return f"Row({self._values!r})"


def json_param(value: Any) -> str:
    return orjson.dumps(value).decode()


class Statement:
    """A statement in ``:name`` style, translated once per dialect.

    ``json_columns`` names result columns that hold JSON: SQLite returns
    them as text, psycopg already decoded; either way the caller gets the
    Python value.
    """

    __slots__ = ("_json", "_names", "_sql", "_texts")

    def __init__(self, sql: str, *, json_columns: Iterable[str] = ()) -> None:
        self._sql = sql
        self._names = [match.group(1) for match in _PLACEHOLDER.finditer(sql)]
        self._json = frozenset(json_columns)
        self._texts = {
            "sqlite": _PLACEHOLDER.sub("?", sql.removesuffix(" FOR UPDATE")),
            # psycopg reads % as its own marker: a literal one is doubled.
            "postgresql": _PLACEHOLDER.sub("%s", sql.replace("%", "%%")),
        }

    def _cursor(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(
            self._texts[conn.dialect.name], [params[name] for name in self._names]
        )
        return cursor

    def execute(self, conn: Connection, **params: Any) -> int:
        """Run the statement; return how many rows it changed."""
        return int(self._cursor(conn, params).rowcount)

    def all(self, conn: Connection, **params: Any) -> list[Row]:
        cursor = self._cursor(conn, params)
        columns = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
        return [self._row(columns, values) for values in rows]

    def first(self, conn: Connection, **params: Any) -> Row | None:
        cursor = self._cursor(conn, params)
        values = cursor.fetchone()
        if values is None:
            return None
        return self._row([column[0] for column in cursor.description], values)

    def one(self, conn: Connection, **params: Any) -> Row:
        row = self.first(conn, **params)
        if row is None:
            raise LookupError(f"no row for {self._sql.split()[0]} with {params}")
        return row

    def _row(self, columns: list[str], values: Iterable[Any]) -> Row:
        row = dict(zip(columns, values, strict=True))
        for name in self._json:
            value = row.get(name)
            if isinstance(value, str | bytes):
                row[name] = orjson.loads(value)
        return Row(row)
