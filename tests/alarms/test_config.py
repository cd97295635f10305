"""The [alarms] and retention settings: defaults, overrides, refusals."""

from __future__ import annotations

import pytest

from icvcloud import config


def test_defaults_meet_the_regulation() -> None:
    cfg = config.load(env={})
    assert cfg.storage.alarm_retention_days >= 3 * 365 + 1  # ≥ 3 years of alarms and their handling
    assert cfg.storage.track_retention_days >= 183  # ≥ 6 months of tracks
    assert cfg.alarms.enabled and cfg.alarms.merge_window_s == 300.0


def test_environment_overrides() -> None:
    cfg = config.load(env={"ICV__ALARMS__MERGE_WINDOW_S": "0", "ICV__ALARMS__COMMAND_TIMEOUT_S": "15",
                           "ICV__STORAGE__ALARM_RETENTION_DAYS": "2000"})
    assert (cfg.alarms.merge_window_s, cfg.alarms.command_timeout_s, cfg.storage.alarm_retention_days) == (0.0, 15.0,
                                                                                                          2000)


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("ICV__ALARMS__TICK_S", "0", "alarms.tick_s"),
    ("ICV__ALARMS__MERGE_WINDOW_S", "-1", "alarms.merge_window_s"),
    ("ICV__ALARMS__WEBHOOK_MAX_ATTEMPTS", "0", "alarms.webhook_max_attempts"),
    ("ICV__STORAGE__TRACK_RETENTION_DAYS", "0", "storage.track_retention_days"),
    ("ICV__STORAGE__PRUNE_EVERY_H", "0", "storage.prune_every_h"),
    ("ICV__ALARMS__CHECKPOINT_S", "soon", "cannot read"),
])
def test_refused(key: str, value: str, fragment: str) -> None:
    with pytest.raises(config.ConfigError, match=fragment):
        config.load(env={key: value})
