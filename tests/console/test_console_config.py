"""The [console] configuration section: TOML, environment overrides, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from icvcloud import config
from icvcloud.api.console import ConsoleSettings, basemap_of


def test_defaults_are_offline() -> None:
    cfg = config.load(None, env={})
    assert cfg.console.basemap == "none"
    bm = basemap_of(ConsoleSettings.from_config(cfg.console))
    assert bm.kind == "none" and bm.tiles == [] and bm.overlay_tiles == {}
    assert "[console]" in config.to_toml(cfg)


def test_toml_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "icv.toml"
    path.write_text('[console]\nbasemap = "custom"\ntile_url = "https://t{s}.example.cn/{z}/{x}/{y}.png"\n'
                    'tile_subdomains = "ab"\ntile_coords = "gcj02"\nzoom = 10\n', encoding="utf-8")
    cfg = config.load(path, env={"ICV__CONSOLE__CENTER_LAT": "36.8", "ICV__CONSOLE__TILE_MAX_ZOOM": "16"})
    s = ConsoleSettings.from_config(cfg.console)
    assert s.center == (118.02, 36.8) and s.zoom == 10.0
    bm = basemap_of(s)
    assert bm.coords == "gcj02" and bm.max_zoom == 16
    assert bm.tiles == ["https://ta.example.cn/{z}/{x}/{y}.png", "https://tb.example.cn/{z}/{x}/{y}.png"]


@pytest.mark.parametrize(("env", "message"), [
    ({"ICV__CONSOLE__BASEMAP": "google"}, "console.basemap must be"),
    ({"ICV__CONSOLE__BASEMAP": "tianditu"}, "tianditu_key"),
    ({"ICV__CONSOLE__BASEMAP": "custom"}, "tile_url with {z}"),
    ({"ICV__CONSOLE__BASEMAP": "custom", "ICV__CONSOLE__TILE_URL": "https://x/{z}/{x}.png"}, "tile_url with {z}"),
    ({"ICV__CONSOLE__TILE_URL": "https://{s}.x/{z}/{x}/{y}.png"}, "tile_subdomains"),
    ({"ICV__CONSOLE__TILE_COORDS": "bd09"}, "tile_coords must be"),
    ({"ICV__CONSOLE__CENTER_LON": "200"}, "out of range"),
    ({"ICV__CONSOLE__ZOOM": "x"}, "cannot read 'x' as float"),
    ({"ICV__CONSOLE__TILE_MAX_ZOOM": "30"}, "tile_max_zoom"),
    ({"ICV__CONSOLE__COLOUR": "red"}, "unknown key console.colour"),
])
def test_bad_settings_are_refused_with_a_reason(env: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigError, match=message.replace("{", r"\{").replace("(", r"\(")):
        config.load(None, env=env)
