"""The ingest benchmark's server-side latency figure: a quantile of what a
cumulative histogram observed between two readings."""

from __future__ import annotations

import math

from bench.ingest import bucket_quantile


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
