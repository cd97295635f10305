"""Counters kept as plain integers on the hot path and exported to Prometheus at
scrape time (a labelled prometheus_client counter costs more per increment than
a frame's whole ack; scrapes are rare)."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

#: Seconds; covers sub-millisecond acks up to a stalled disk.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Histogram:
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, v: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, v)] += 1
        self.total += v
        self.n += 1

    def merge(self, other: Histogram) -> None:
        """Add ``other``'s observations (same buckets) to this one."""
        if other.buckets != self.buckets:
            raise ValueError("histograms with different buckets")
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.total += other.total
        self.n += other.n

    def cumulative(self) -> list[tuple[str, float]]:
        out, acc = [], 0
        for b, c in zip(self.buckets, self.counts, strict=False):
            acc += c
            out.append((repr(b), float(acc)))
        out.append(("+Inf", float(self.n)))
        return out

    def quantile(self, q: float) -> float:
        """Upper bucket bound holding the q-quantile (coarse; for health output)."""
        if not self.n:
            return 0.0
        target, acc = q * self.n, 0
        for b, c in zip(self.buckets, self.counts, strict=False):
            acc += c
            if acc >= target:
                return b
        return float("inf")


@dataclass
class GatewayStats:
    protocol: str
    connections: int = 0
    connections_total: int = 0
    frames: Counter[str] = field(default_factory=Counter)  # by outcome
    reports: int = 0  # positions acknowledged (0x0200 = 1, 0x0704 = its items)
    ack_latency: Histogram = field(default_factory=Histogram)


@dataclass
class PipelineStats:
    positions_stored: int = 0
    positions_duplicate: int = 0
    records_processed: int = 0
    decode_errors: int = 0
    lag: Callable[[], int] = lambda: 0
    batch_latency: Histogram = field(default_factory=Histogram)


class PlatformCollector(Collector):
    def __init__(self, gateways: Iterable[GatewayStats], pipeline: PipelineStats,
                 log_stats: Callable[[], dict[str, float]] | None = None) -> None:
        self.gateways = list(gateways)
        self.pipeline = pipeline
        self.log_stats = log_stats

    def collect(self) -> Iterator[Metric]:
        conns = GaugeMetricFamily("icv_connections", "Open device connections", labels=["protocol"])
        conns_total = CounterMetricFamily("icv_connections", "Device connections accepted", labels=["protocol"])
        frames = CounterMetricFamily("icv_frames", "Frames received, by outcome", labels=["protocol", "outcome"])
        reports = CounterMetricFamily("icv_reports_acknowledged", "Reports acknowledged after durable",
                                      labels=["protocol"])
        for g in self.gateways:
            conns.add_metric([g.protocol], g.connections)
            conns_total.add_metric([g.protocol], g.connections_total)
            for outcome, n in sorted(g.frames.items()):
                frames.add_metric([g.protocol, outcome], n)
            reports.add_metric([g.protocol], g.reports)
            h = HistogramMetricFamily("icv_ack_latency_seconds", "Frame received to acknowledgement sent",
                                      labels=["protocol"])
            h.add_metric([g.protocol], g.ack_latency.cumulative(), g.ack_latency.total)
            yield h
        yield from (conns, conns_total, frames, reports)
        p = self.pipeline
        yield CounterMetricFamily("icv_positions_stored", "Positions written to the store", value=p.positions_stored)
        yield CounterMetricFamily("icv_positions_duplicate", "Positions dropped as duplicates",
                                  value=p.positions_duplicate)
        yield CounterMetricFamily("icv_pipeline_decode_errors", "Log records that failed decoding",
                                  value=p.decode_errors)
        yield GaugeMetricFamily("icv_log_lag_records", "Log records not yet processed by the store consumer",
                                value=p.lag())
        h = HistogramMetricFamily("icv_pipeline_batch_seconds", "Time to process one batch of log records")
        h.add_metric([], p.batch_latency.cumulative(), p.batch_latency.total)
        yield h
        if self.log_stats is not None:
            for k, v in self.log_stats().items():
                yield GaugeMetricFamily(f"icv_log_{k}", f"Log: {k.replace('_', ' ')}", value=v)


def make_registry(collector: Collector) -> CollectorRegistry:
    reg = CollectorRegistry()
    reg.register(collector)
    return reg
