"""The ingest benchmark's figures: the server-side latency (a quantile of what a
cumulative histogram observed between two readings) and the fleet's measured window."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from bench.common import FleetMarks, check_marks, sent_in_window
from bench.ingest import bucket_quantile, free_port, start_ack_server, start_fleet


def test_quantile_of_the_difference_between_two_readings() -> None:
    before = {0.001: 100.0, 0.01: 100.0, 0.1: 100.0, math.inf: 100.0}  # 100 fast acks before the window
    # In the window: 50 under 1 ms, 45 more under 10 ms, 5 more under 100 ms.
    after = {0.001: 150.0, 0.01: 195.0, 0.1: 200.0, math.inf: 200.0}
    assert bucket_quantile(before, after, 0.50) == 0.001
    assert bucket_quantile(before, after, 0.90) == 0.01
    assert bucket_quantile(before, after, 0.99) == 0.1


def test_beyond_the_last_bound_and_an_empty_window() -> None:
    after = {0.001: 0.0, math.inf: 10.0}
    assert bucket_quantile({}, after, 0.5) == math.inf
    assert math.isnan(bucket_quantile(after, after, 0.5))


def test_histograms_merge_by_bucket() -> None:
    from icvcloud.metrics import Histogram

    a, b = Histogram(), Histogram()
    for v in (0.0004, 0.003, 0.2):
        a.observe(v)
    for v in (0.003, 9.0):
        b.observe(v)
    a.merge(b)
    assert a.n == 5 and math.isclose(a.total, 0.0004 + 0.003 + 0.2 + 0.003 + 9.0)
    assert a.quantile(0.2) == 0.0005 and a.quantile(0.6) == 0.005 and a.quantile(1.0) == math.inf
    try:
        a.merge(Histogram(buckets=(1.0,)))
    except ValueError:
        pass
    else:
        raise AssertionError("histograms of other buckets merged")


def test_fleet_marks_its_measured_window(tmp_path: Path) -> None:
    """``icv sim fleet`` marks where its measured window starts and ends, so a bench
    does not count the seconds of closing 10,000 connections and writing the stats
    as reporting time (it did: 20,000 offered reports/s read as 18,000)."""
    port = free_port()
    server = start_ack_server(port)
    try:
        stats_file = tmp_path / "fleet.json"
        fleet = start_fleet(port, 20, 0.5, 3.0, 2.0, stats_file)
        assert fleet.wait(60) == 0
    finally:
        server.kill()
        server.wait()
    marks = FleetMarks(stats_file)
    assert marks.warm() and marks.end()
    warm = json.loads(Path(f"{stats_file}.warm").read_text())["sent"]
    end = json.loads(Path(f"{stats_file}.end").read_text())["sent"]
    stats = json.loads(stats_file.read_text())
    # 20 terminals every 0.5 s for 3 s: about 120 in the window.
    assert sent_in_window(stats) == end - warm
    assert 60 <= end - warm <= 180
    assert stats["sent"] >= end >= warm > 0
    assert Path(f"{stats_file}.end").stat().st_mtime <= stats_file.stat().st_mtime


def test_a_fleet_without_its_marks_gives_no_figures() -> None:
    """Every bench refuses a window the fleet did not mark (it crashed or was killed)
    rather than measure from its start or exit."""
    assert check_marks(True, (1.5, 2)) == (1.5, 2)  # the end mark's figures
    with pytest.raises(RuntimeError, match="start of its measured window"):
        check_marks(False, (1.5, 2))
    with pytest.raises(RuntimeError, match="end of its measured window"):
        check_marks(True, None)
