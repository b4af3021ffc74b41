"""Hand-written statements run on the driver, for what every lead and job runs.

SQLAlchemy Core builds, caches and post-processes every statement it runs,
which costs more CPU than SQLite spends executing a small one. The lead
journey runs about twenty statements per lead, so its hot ones (and the
queue's claim and finish) are written
once here, in SQL both dialects accept, with ``:name`` placeholders, and are
translated to each driver's placeholder style on first use. Everything else
(migrations, the API's reads, configuration) stays on Core.

JSON columns are encoded with orjson on the way in and decoded on the way
out; values are otherwise plain strings and numbers, which both drivers take
and return as they are. A trailing ``FOR UPDATE`` is dropped on SQLite, whose
single writer already holds every row until the commit.

Pipelining. On PostgreSQL every statement is a round trip to the server, and
a worker spends most of a lead's time waiting on them. Inside
:func:`pipelined`, a write whose result nobody reads (:meth:`Statement.execute`)
is queued instead of sent; the queue goes out in one round trip, in order,
together with the next read (:meth:`Statement.first` and friends), before any
SQLAlchemy statement on the connection, or at :func:`flush`. The server runs
the statements in the order they were written, so a read sees every write
queued before it; what changes is only when an error in a queued write is
raised: at the next flush. SQLite runs in-process, where a statement costs no
round trip, so there everything runs at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Connection

__all__ = [
    "Row",
    "Statement",
    "first_time",
    "flush",
    "json_param",
    "pending",
    "pipelined",
    "read_together",
    "release_savepoint",
    "rollback_to_savepoint",
    "savepoint",
]

_PLACEHOLDER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
# The key in the DBAPI connection's info dict of the writes queued on it.
_PENDING = "neuronx_pending_writes"
_SAVEPOINT = "SAVEPOINT neuronx_job"
_RELEASE = "RELEASE SAVEPOINT neuronx_job"
_ROLLBACK = "ROLLBACK TO SAVEPOINT neuronx_job"
# Keys already seen in the pipelined block, for first_time().
_ONCE = "neuronx_once"

Queued = list[tuple[str, Sequence[Any]]]


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

    def __init__(
        self,
        sql: str,
        *,
        json_columns: Iterable[str] = (),
        sqlite: str | None = None,
    ) -> None:
        self._sql = sql
        self._names = [match.group(1) for match in _PLACEHOLDER.finditer(sql)]
        self._json = frozenset(json_columns)
        # ``sqlite`` is the same statement in SQLite's words, with the same
        # placeholders in the same order, where the two dialects differ.
        sqlite = sqlite or sql.removesuffix(" FOR UPDATE")
        if [m.group(1) for m in _PLACEHOLDER.finditer(sqlite)] != self._names:
            raise ValueError("the SQLite text must take the same parameters")
        self._texts = {
            "sqlite": _PLACEHOLDER.sub("?", sqlite),
            # psycopg reads % as its own marker: a literal one is doubled.
            "postgresql": _PLACEHOLDER.sub("%s", sql.replace("%", "%%")),
        }

    def _cursor(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run the statement, after whatever writes are queued, in one round trip."""
        driver = _driver(conn)
        cursor = driver.cursor()
        sql = self._texts[conn.dialect.name]
        values = self._values(params)
        queued = _take(conn)
        if not queued:
            cursor.execute(sql, values)
            return cursor
        with driver.pipeline():
            _send(driver, queued)
            cursor.execute(sql, values)
        return cursor

    def _values(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] for name in self._names]

    def _rows(self, cursor: Any) -> list[Row]:
        columns = [column[0] for column in cursor.description]
        return [self._row(columns, values) for values in cursor.fetchall()]

    def execute(self, conn: Connection, **params: Any) -> None:
        """Run a statement whose result is not needed; queued when pipelined."""
        _write(conn, self._texts[conn.dialect.name], self._values(params))

    def all(self, conn: Connection, **params: Any) -> list[Row]:
        return self._rows(self._cursor(conn, params))

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


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """Queue this module's result-less writes on ``conn`` (see the module doc).

    What is still queued at the end of the block is sent then; if the block
    raises, it is dropped with the transaction the caller rolls back.
    """
    if conn.dialect.name != "postgresql" or pending(conn) is not None:
        yield
        return
    conn.info[_PENDING] = []
    conn.info[_ONCE] = set()
    try:
        yield
        flush(conn)
    finally:
        conn.info.pop(_PENDING, None)
        conn.info.pop(_ONCE, None)


def first_time(conn: Connection, key: str) -> bool:
    """Whether ``key`` is new in this pipelined block (always true outside one).

    For statements that need running once per transaction however often they
    are asked for, such as a notification.
    """
    seen: set[str] | None = conn.info.get(_ONCE)
    if seen is None:
        return True
    if key in seen:
        return False
    seen.add(key)
    return True


def read_together(
    conn: Connection, *reads: tuple[Statement, Mapping[str, Any]]
) -> list[list[Row]]:
    """The rows of each read, in order; one round trip for all on PostgreSQL.

    The reads run one after the other on the server, after the queued
    writes, so a lock the first one takes holds for those after it.
    """
    driver = _driver(conn)
    dialect = conn.dialect.name
    if dialect != "postgresql":
        return [
            statement._rows(statement._cursor(conn, params))
            for statement, params in reads
        ]
    cursors = [driver.cursor() for _ in reads]
    with driver.pipeline():
        _send(driver, _take(conn))
        for cursor, (statement, params) in zip(cursors, reads, strict=True):
            cursor.execute(statement._texts[dialect], statement._values(params))
    return [
        statement._rows(cursor)
        for cursor, (statement, _) in zip(cursors, reads, strict=True)
    ]


def pending(conn: Connection) -> Queued | None:
    """The writes queued on ``conn``, or None when it is not pipelined."""
    queue: Queued | None = conn.info.get(_PENDING)
    return queue


def flush(conn: Connection) -> None:
    """Send the queued writes now; an error of any of them is raised here."""
    _send_now(conn, _take(conn))


def savepoint(conn: Connection) -> None:
    """Open the savepoint that fences one job's writes (queued when pipelined)."""
    _write(conn, _SAVEPOINT)


def release_savepoint(conn: Connection) -> None:
    """Keep the job's writes; they all reach the server before this returns."""
    _write(conn, _RELEASE)
    flush(conn)


def rollback_to_savepoint(conn: Connection) -> None:
    """Undo the job's writes: those still queued are dropped, the rest rolled back.

    When even the savepoint was still queued, the server never saw the job:
    what was queued before it is sent, and there is nothing to roll back.
    """
    # What ran once since the savepoint is undone with it: let it run again.
    seen: set[str] | None = conn.info.get(_ONCE)
    if seen:
        seen.clear()
    queued = _take(conn)
    statements = [sql for sql, _ in queued]
    if _SAVEPOINT in statements:
        _send_now(conn, queued[: statements.index(_SAVEPOINT)])
        return
    cursor = _driver(conn).cursor()
    cursor.execute(_ROLLBACK)
    cursor.execute(_RELEASE)


def _driver(conn: Connection) -> Any:
    return conn.connection.driver_connection


def _write(conn: Connection, sql: str, values: Sequence[Any] = ()) -> None:
    """Queue ``sql`` on a pipelined connection, else run it now.

    Only PostgreSQL connections are ever pipelined, so a queued text is
    always in its placeholder style.
    """
    queue = pending(conn)
    if queue is not None:
        queue.append((sql, values))
    else:
        _driver(conn).cursor().execute(sql, values)


def _take(conn: Connection) -> Queued:
    queue = pending(conn)
    if not queue:
        return []
    taken = list(queue)
    queue.clear()
    return taken


def _send_now(conn: Connection, queued: Queued) -> None:
    if queued:
        driver = _driver(conn)
        with driver.pipeline():
            _send(driver, queued)


def _send(driver: Any, queued: Queued) -> None:
    cursor = driver.cursor()
    for sql, values in queued:
        cursor.execute(sql, values)
