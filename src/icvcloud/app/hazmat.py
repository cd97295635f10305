"""The hazmat services as a deployment runs them: the repository over the
deployment's store (SQLite embedded, PostgreSQL scale-out) and the configured rules."""

from __future__ import annotations

from typing import cast

from icvcloud.api.hazmat_services import HazmatServices
from icvcloud.config import Config, ConfigError
from icvcloud.hazmat.validation import OfflineTerminal, Rules
from icvcloud.store.base import Store
from icvcloud.store.hazmat_base import HazmatStore


def hazmat_store(store: Store) -> HazmatStore:
    """The hazmat repository sharing ``store``'s database and connections."""
    from icvcloud.store.sqlite import SqliteStore

    if isinstance(store, SqliteStore):
        from icvcloud.store.sqlite_hazmat import SqliteHazmatStore

        return SqliteHazmatStore(store)
    from icvcloud.store.postgres import PostgresStore

    if isinstance(store, PostgresStore):
        from icvcloud.store.postgres_hazmat import PostgresHazmatStore

        return PostgresHazmatStore(store)
    raise TypeError(f"no hazmat repository for {type(store).__name__}")


def hazmat_services(cfg: Config, store: Store) -> HazmatServices | None:
    """What the API's hazmat endpoints need; None if ``[hazmat] enabled`` is off."""
    h = cfg.hazmat
    if not h.enabled:
        return None
    if h.offline_terminal not in ("refuse", "warn"):
        raise ConfigError(f"hazmat.offline_terminal must be refuse or warn, not {h.offline_terminal!r}")
    if h.expiring_within_days < 0:
        raise ConfigError("hazmat.expiring_within_days must be ≥ 0")
    rules = Rules(offline_terminal=cast(OfflineTerminal, h.offline_terminal), max_trip_days=h.max_trip_days)
    return HazmatServices(store=hazmat_store(store), rules=rules, expiring_within_days=h.expiring_within_days)
