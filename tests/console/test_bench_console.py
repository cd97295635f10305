"""`icv bench console` end to end on a small fleet: the platform and the fleet start,
the console is driven over the DevTools protocol (bench/cdp.py), every full update is
timed through the city view's cells, and the last line is the JSON of the figures.
Times are printed, never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from icvcloud.api.console import DIST_DIR


def test_bench_console_times_full_updates_of_a_small_fleet(tmp_path: Path) -> None:
    assert (DIST_DIR / "index.html").exists(), "the console is not built: scripts/build-console"
    out = subprocess.run([sys.executable, "-m", "icvcloud.cli", "bench", "console", "--vehicles", "30", "--interval",
                          "1", "--updates", "3", "--live-seconds", "2", "--artifacts", str(tmp_path)],
                         capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    fig = json.loads(out.stdout.strip().splitlines()[-1])
    assert fig["vehicles"] == 30
    assert fig["full_updates"] == 3
    assert fig["full_update_ms_p50"] > 0 and fig["baseline_parse_frame_ms_p50"] > 0
    # At city zoom the cells are page elements: no GeoJSON source update, no tiles.
    assert fig["full_update_tiles_ms_p50"] == 0
    assert fig["webgl"] != "none"  # the map needs WebGL
    assert (tmp_path / "bench-city.png").stat().st_size > 10_000
