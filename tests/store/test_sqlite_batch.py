"""Multi-row statements and one-step reads: same rows as the plain statements."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icvcloud.sqlite_batch import MAX_ROWS, fetch_rows, insert_flat, insert_rows


def _db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, name TEXT, x REAL, blob BLOB)")
    return db


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 64, MAX_ROWS - 1, MAX_ROWS, MAX_ROWS + 1, 3 * MAX_ROWS + 5])
def test_insert_rows_writes_every_row_once(n: int) -> None:
    db = _db()
    rows = [(i, f"dev{i}", i / 10, bytes([i % 256])) for i in range(n)]
    assert insert_rows(db, "INSERT INTO t (k, name, x, blob) VALUES", rows) == n
    assert db.execute("SELECT k, name, x, blob FROM t ORDER BY k").fetchall() == rows


def test_insert_with_conflict_tail_counts_changes() -> None:
    db = _db()
    insert_rows(db, "INSERT INTO t (k, name) VALUES", [(1, "a"), (2, "b")])
    changed = insert_rows(db, "INSERT INTO t (k, name) VALUES", [(2, "B"), (3, "c")],
                          "ON CONFLICT (k) DO UPDATE SET name = excluded.name")
    assert changed == 2
    assert db.execute("SELECT name FROM t ORDER BY k").fetchall() == [("a",), ("B",), ("c",)]
    assert insert_rows(db, "INSERT OR IGNORE INTO t (k, name) VALUES", [(1, "x"), (4, "d")]) == 1


def test_insert_flat_refuses_ragged_values() -> None:
    with pytest.raises(ValueError, match="rows of 2"):
        insert_flat(_db(), "INSERT INTO t (k, name) VALUES", 2, [1, "a", 2])


@given(st.lists(st.tuples(st.text(max_size=20), st.one_of(st.none(), st.integers(-(2**62), 2**62)),
                          st.one_of(st.none(), st.binary(max_size=40))), max_size=60))
def test_fetch_rows_matches_a_plain_select(rows: list[tuple[str, int | None, bytes | None]]) -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE r (o INTEGER PRIMARY KEY, s TEXT, i INTEGER, b BLOB)")
    db.executemany("INSERT INTO r (s, i, b) VALUES (?, ?, ?)", rows)
    plain = [list(r) for r in db.execute("SELECT o, s, i, b FROM r WHERE o > ? ORDER BY o", (0,))]
    got = fetch_rows(db, ("o", "s", "i", "b"), "SELECT {columns} FROM r WHERE o > ? ORDER BY o", (0,), blobs=(3,))
    assert got == plain
