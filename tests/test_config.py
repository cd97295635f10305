"""Configuration: TOML plus environment overrides; `icv config show` round-trips and
hides secrets unless asked."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from icvcloud import config
from icvcloud.cli import main


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    f = tmp_path / "icv.toml"
    f.write_text('[jt808]\nport = 7000\nadmission = "registered"\n[api]\nport = 9000\n', encoding="utf-8")
    cfg = config.load(f, env={"ICV__API__PORT": "9100", "ICV__LOGGING__JSON": "false"})
    assert (cfg.jt808.port, cfg.jt808.admission, cfg.api.port, cfg.logging.json) == (7000, "registered", 9100, False)


def test_shown_configuration_is_a_file_that_loads_back(tmp_path: Path) -> None:
    cfg = config.load(None, env={"ICV__SCALEOUT__POSTGRES_DSN": 'postgresql://icv:s3"cret@db:5432/icv',
                                 "ICV__ATTACHMENTS__SECRET": "hmac-key", "ICV__SIM__VEHICLES": "42"})
    shown = config.to_toml(cfg)
    assert "s3" not in shown and "hmac-key" not in shown
    parsed = tomllib.loads(shown)
    assert parsed["scaleout"]["postgres_dsn"] == f"postgresql://icv:{config.HIDDEN}@db:5432/icv"
    assert parsed["attachments"]["secret"] == config.HIDDEN
    full = tmp_path / "full.toml"
    full.write_text(config.to_toml(cfg, secrets=True), encoding="utf-8")
    again = config.load(full, env={})
    assert again.as_dict() == cfg.as_dict()


def test_config_show_prints_toml(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICV__JT808__PORT", "7001")
    monkeypatch.setenv("ICV__ATTACHMENTS__SECRET", "do-not-print")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert tomllib.loads(out)["jt808"]["port"] == 7001
    assert "do-not-print" not in out
