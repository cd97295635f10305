"""The report repository for a deployment's store (SQLite embedded, PostgreSQL
scale-out), sharing its connections."""

from __future__ import annotations

from icvcloud.store.base import Store
from icvcloud.store.reports_base import ReportStore


def report_store(store: Store) -> ReportStore:
    from icvcloud.store.sqlite import SqliteStore

    if isinstance(store, SqliteStore):
        from icvcloud.store.sqlite_reports import SqliteReportStore

        return SqliteReportStore(store)
    from icvcloud.store.postgres import PostgresStore

    if isinstance(store, PostgresStore):
        from icvcloud.store.postgres_reports import PostgresReportStore

        return PostgresReportStore(store)
    raise TypeError(f"no report repository for {type(store).__name__}")
