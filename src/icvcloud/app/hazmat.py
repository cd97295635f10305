"""The hazmat services as a deployment runs them: the repository over the
deployment's store (SQLite embedded, PostgreSQL scale-out) and the configured rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from icvcloud.api.hazmat_services import HazmatServices
from icvcloud.config import Config, ConfigError
from icvcloud.hazmat.validation import OfflineTerminal, Rules
from icvcloud.store.base import Store
from icvcloud.store.hazmat_base import HazmatStore

from .alarms import EngineFactory


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


def hazmat_services(cfg: Config, store: Store, changed: Callable[[], None] | None = None) -> HazmatServices | None:
    """What the API's hazmat endpoints need; None if ``[hazmat] enabled`` is off.
    ``changed`` tells the trip monitors that waybills changed (they reload sooner)."""
    h = cfg.hazmat
    if not h.enabled:
        return None
    if h.offline_terminal not in ("refuse", "warn"):
        raise ConfigError(f"hazmat.offline_terminal must be refuse or warn, not {h.offline_terminal!r}")
    if h.expiring_within_days < 0:
        raise ConfigError("hazmat.expiring_within_days must be ≥ 0")
    rules = Rules(offline_terminal=cast(OfflineTerminal, h.offline_terminal), max_trip_days=h.max_trip_days)
    return HazmatServices(store=hazmat_store(store), rules=rules, expiring_within_days=h.expiring_within_days,
                          changed=changed)


def trip_rules(cfg: Config, store: Store, rules: EngineFactory, *, tick_everything: bool = True) -> EngineFactory:
    """``rules`` with full-trip monitoring around it when hazmat monitoring is on."""
    h = cfg.hazmat
    if not (h.enabled and h.monitor):
        return rules
    from .trip_engine import TripRules, monitor_config

    return TripRules(rules, hazmat_store(store), monitor_config(h), tick_everything=tick_everything)
