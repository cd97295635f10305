"""How a deployment builds the hazmat services from its configuration and store."""

from __future__ import annotations

from pathlib import Path

import pytest

from icvcloud.app.hazmat import hazmat_services
from icvcloud.config import Config, ConfigError
from icvcloud.store.sqlite import SqliteStore
from icvcloud.store.sqlite_hazmat import SqliteHazmatStore


def test_services_from_config(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    cfg = Config()
    h = hazmat_services(cfg, store)
    assert h is not None and isinstance(h.store, SqliteHazmatStore)
    assert h.rules.offline_terminal == "refuse" and h.expiring_within_days == 30
    cfg.hazmat.offline_terminal = "warn"
    cfg.hazmat.expiring_within_days = 60
    h = hazmat_services(cfg, store)
    assert h is not None and h.rules.offline_terminal == "warn" and h.expiring_within_days == 60
    cfg.hazmat.offline_terminal = "ignore"
    with pytest.raises(ConfigError, match="offline_terminal"):
        hazmat_services(cfg, store)
    cfg.hazmat.enabled = False
    assert hazmat_services(cfg, store) is None
