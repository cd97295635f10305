"""The console's own unit tests (web/test/, Vitest under Node.js): the GCJ-02
transform against an independent implementation, states, merging, aggregation,
playback maths, time formatting, dictionaries. Run here so that scripts/test runs
them; they need web/node_modules (scripts/build-console installs it)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"


def test_vitest_suite_passes() -> None:
    vitest = WEB / "node_modules" / ".bin" / "vitest"
    assert vitest.exists(), "web/node_modules is missing: run scripts/build-console (scripts/test does)"
    env = dict(os.environ, NO_COLOR="1", FORCE_COLOR="0", CI="true")
    out = subprocess.run([str(vitest), "run", "--reporter=verbose"], cwd=WEB, capture_output=True, text=True,
                         timeout=300, check=False, env=env)
    report = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    assert out.returncode == 0, report[-4000:]
    passed = re.search(r"Tests\s+(\d+) passed", report)
    assert passed and int(passed.group(1)) >= 20, report[-2000:]
    assert "failed" not in report.split("Test Files")[-1], report[-2000:]
