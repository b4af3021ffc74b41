"""Driver-level statements and their pipelining, on both stores."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy import Connection, text

from neuronx.errors import StoreUnavailable
from neuronx.store import raw
from neuronx.store.db import Database

_INSERT = raw.Statement("INSERT INTO marks (n, label) VALUES (:n, :label)")
_COUNT = raw.Statement("SELECT count(*) AS total FROM marks WHERE n >= :n")
_LABELS = raw.Statement(
    "SELECT label, meta FROM marks ORDER BY n", json_columns=("meta",)
)


@pytest.fixture
def marks(db: Database) -> Database:
    with db.write() as conn:
        conn.execute(
            text(
                "CREATE TABLE marks (n INTEGER PRIMARY KEY, label TEXT, "
                "meta TEXT DEFAULT '{\"k\": 1}')"
            )
        )
    return db


def test_a_read_sees_the_writes_queued_before_it(marks: Database) -> None:
    with marks.write() as conn, raw.pipelined(conn):
        _INSERT.execute(conn, n=1, label="a")
        _INSERT.execute(conn, n=2, label="b")
        assert _COUNT.one(conn, n=0).total == 2
        rows = _LABELS.all(conn)

    assert [(row.label, row.meta) for row in rows] == [("a", {"k": 1}), ("b", {"k": 1})]


def test_a_core_statement_sees_the_writes_queued_before_it(marks: Database) -> None:
    with marks.write() as conn, raw.pipelined(conn):
        _INSERT.execute(conn, n=1, label="a")
        total = conn.execute(text("SELECT count(*) FROM marks")).scalar_one()

    assert total == 1


def test_writes_still_queued_at_the_end_of_the_block_are_committed(
    marks: Database,
) -> None:
    with marks.write() as conn, raw.pipelined(conn):
        _INSERT.execute(conn, n=1, label="a")

    with marks.read() as conn:
        assert _COUNT.one(conn, n=0).total == 1


def test_a_queued_write_fails_by_the_next_flush_at_the_latest(
    marks: Database,
) -> None:
    with marks.write() as conn, raw.pipelined(conn):
        _INSERT.execute(conn, n=1, label="a")
        queued = raw.pending(conn)
        if marks.is_sqlite:
            # In-process: nothing to save by queueing, so nothing is queued.
            assert queued is None
        else:
            assert queued is not None
            assert len(queued) == 1
        with pytest.raises((psycopg.errors.UniqueViolation, sqlite3.IntegrityError)):
            _duplicate_then_flush(conn)
        assert not raw.pending(conn)
        conn.rollback()


def _duplicate_then_flush(conn: Connection) -> None:
    _INSERT.execute(conn, n=1, label="again")
    raw.flush(conn)


def _write_twice(db: Database) -> None:
    with db.write() as conn, raw.pipelined(conn):
        _INSERT.execute(conn, n=1, label="a")
        _INSERT.execute(conn, n=1, label="again")
        _COUNT.one(conn, n=0)


def test_a_failed_block_commits_nothing(marks: Database) -> None:
    with pytest.raises(StoreUnavailable):
        _write_twice(marks)

    with marks.read() as conn:
        assert _COUNT.one(conn, n=0).total == 0


def test_a_rolled_back_savepoint_keeps_what_came_before_it(marks: Database) -> None:
    with marks.write() as conn, raw.pipelined(conn):
        _INSERT.execute(conn, n=1, label="kept")
        raw.savepoint(conn)
        _INSERT.execute(conn, n=2, label="dropped while queued")
        raw.rollback_to_savepoint(conn)
        raw.savepoint(conn)
        _INSERT.execute(conn, n=3, label="sent, then rolled back")
        raw.flush(conn)
        raw.rollback_to_savepoint(conn)
        raw.savepoint(conn)
        _INSERT.execute(conn, n=4, label="released")
        raw.release_savepoint(conn)

    with marks.read() as conn:
        assert [row.label for row in _LABELS.all(conn)] == ["kept", "released"]


def test_the_queue_is_gone_after_the_block(marks: Database) -> None:
    with marks.write() as conn:
        with raw.pipelined(conn):
            pass
        assert raw.pending(conn) is None
        _INSERT.execute(conn, n=1, label="at once")
        assert _COUNT.one(conn, n=0).total == 1


def test_first_time_is_once_per_block_and_again_after_a_rollback(
    marks: Database,
) -> None:
    with marks.write() as conn:
        assert raw.first_time(conn, "k")
        assert raw.first_time(conn, "k")  # outside a block: every time
        with raw.pipelined(conn):
            pipelined = not marks.is_sqlite
            assert raw.first_time(conn, "k")
            assert raw.first_time(conn, "k") is not pipelined
            raw.savepoint(conn)
            raw.rollback_to_savepoint(conn)
            assert raw.first_time(conn, "k")


def test_reads_together_see_the_queued_writes_and_keep_their_order(
    marks: Database,
) -> None:
    with marks.write() as conn, raw.pipelined(conn):
        _INSERT.execute(conn, n=1, label="a")
        _INSERT.execute(conn, n=5, label="b")
        counts, labels, none = raw.read_together(
            conn, (_COUNT, {"n": 2}), (_LABELS, {}), (_COUNT, {"n": 9})
        )

    assert counts[0].total == 1
    assert [row.label for row in labels] == ["a", "b"]
    assert none[0].total == 0
