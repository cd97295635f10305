"""SQLite statements shaped for a process whose event loop is busy.

Python's ``sqlite3`` releases the GIL around every ``sqlite3_step``. A worker
thread that steps once per row must win the GIL back once per row, and while the
event loop is busy every such win waits up to the interpreter's switch interval
(5 ms). Measured here: ``executemany`` of 2,000 rows took 2.8 ms on an idle
interpreter and 1.8 s beside one busy thread; the same rows as multi-row
``INSERT … VALUES (…), (…)`` statements took 12 ms. Hence: writes step once per
many rows (:func:`insert_rows`), bulk reads step once per query (:func:`fetch_rows`,
which aggregates the rows into one JSON value inside SQLite).
"""

# ruff: noqa: S608 - statements are built from our own column lists; values are always bound
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from icvcloud import fastjson

#: SQLite ≥ 3.32 allows 32,766 host parameters per statement (999 before).
MAX_PARAMS = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
#: Rows per statement at most: bigger statements gain nothing and cost parse time.
MAX_ROWS = 1024


@lru_cache(maxsize=256)
def _insert_sql(head: str, ncols: int, nrows: int, tail: str) -> str:
    row = "(" + ", ".join("?" * ncols) + ")"
    return f"{head} {', '.join([row] * nrows)} {tail}"


def insert_rows(db: sqlite3.Connection, head: str, rows: Sequence[Sequence[Any]], tail: str = "") -> int:
    """Run ``head VALUES (…), (…) tail`` over ``rows`` in a few statements.

    ``head`` ends with ``VALUES``; ``tail`` may hold an ``ON CONFLICT`` clause.
    Returns the number of rows changed.
    """
    if not rows:
        return 0
    return insert_flat(db, head, len(rows[0]), [v for r in rows for v in r], tail)


def insert_flat(db: sqlite3.Connection, head: str, ncols: int, values: Sequence[Any], tail: str = "") -> int:
    """:func:`insert_rows` over rows already laid end to end in ``values`` (so that
    a worker thread that only executes needs no Python work of its own).

    Statements are cut in power-of-two row counts so that the statement cache holds
    a handful of shapes.
    """
    n = len(values) // ncols
    if n * ncols != len(values):
        raise ValueError(f"{len(values)} values are not rows of {ncols}")
    limit = max(1, min(MAX_ROWS, MAX_PARAMS // ncols))
    before = db.total_changes
    i = 0
    while i < n:
        size = min(limit, 1 << ((n - i).bit_length() - 1))
        db.execute(_insert_sql(head, ncols, size, tail), values[i * ncols : (i + size) * ncols])
        i += size
    return db.total_changes - before


@lru_cache(maxsize=64)
def _padded_sql(table_cols: str, ncols: int, nrows: int) -> str:
    row = "(" + ", ".join("?" * ncols) + ")"
    select = ", ".join(f"column{i + 1}" for i in range(ncols))
    return (f"INSERT INTO {table_cols} SELECT {select} FROM (VALUES {', '.join([row] * nrows)}) "
            "WHERE column1 IS NOT NULL")


#: Rows one :func:`insert_one_step` statement takes at most.
def one_step_rows(ncols: int) -> int:
    return 1 << ((MAX_PARAMS // ncols).bit_length() - 1)


def insert_one_step(db: sqlite3.Connection, table_cols: str, ncols: int, values: list[Any]) -> int:
    """Insert rows laid end to end in ``values`` with one statement — one step, so
    one wait for the GIL, and outside a transaction one commit — and return the
    last rowid. ``table_cols`` is ``table (col, …)``; the first column must never
    be NULL (padding rows are). At most :func:`one_step_rows` rows; ``values`` is
    padded in place to a power-of-two row count so that few statement shapes exist.
    """
    n = len(values) // ncols
    if n * ncols != len(values) or n == 0:
        raise ValueError(f"{len(values)} values are not rows of {ncols}")
    if n > one_step_rows(ncols):
        raise ValueError(f"{n} rows are more than one statement takes")
    size = 1 << (n - 1).bit_length()
    values.extend([None] * ((size - n) * ncols))
    cur = db.execute(_padded_sql(table_cols, ncols, size), values)
    return int(cur.lastrowid or 0)


def fetch_rows(db: sqlite3.Connection, columns: Sequence[str], query: str, params: Sequence[Any] = (),
               blobs: Sequence[int] = ()) -> list[list[Any]]:
    """All rows of ``query`` in one step; ``query`` holds ``{columns}`` where its
    select list goes, and ``columns`` are the expressions selected.

    Column positions listed in ``blobs`` travel as hex and come back as bytes.
    JSON renders REAL values with 15 significant digits: exact for coordinates
    stored to 1e-6 degrees and speeds to 0.1 km/h, not for arbitrary doubles.
    Rows come in the query's order in practice (SQLite aggregates them as the
    subquery yields them); callers that depend on it re-sort.
    """
    names = [f"c{i}" for i in range(len(columns))]
    select = ", ".join(f"{c} AS {n}" for c, n in zip(columns, names, strict=True))
    # hex(NULL) is '': keep NULL apart from the empty blob.
    items = ", ".join(f"iif({n} IS NULL, NULL, hex({n}))" if i in blobs else n for i, n in enumerate(names))
    sql = f"SELECT json_group_array(json_array({items})) FROM ({query.replace('{columns}', select, 1)})"
    text = db.execute(sql, params).fetchone()[0]
    rows: list[list[Any]] = fastjson.loads(text) if text else []
    if blobs:
        for r in rows:
            for i in blobs:
                if r[i] is not None:
                    r[i] = bytes.fromhex(r[i])
    return rows
