"""Prometheus export of the alarm side: the consumer's progress and latency, the
engine's time, webhook outcomes, live-feed subscribers (read at scrape time)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from icvcloud.alarm_feed import AlarmFeed

from .alarms import AlarmStats
from .notify import WebhookDeliverer


class AlarmCollector(Collector):
    """``stats`` and ``webhooks`` are read at each scrape (a scale-out worker sums its
    partitions' consumers, and delivers webhooks only while it holds partition 0);
    ``feed``: the process's WebSocket subscribers, where it has any."""

    def __init__(self, stats: Callable[[], AlarmStats], webhooks: Callable[[], WebhookDeliverer | None],
                 feed: AlarmFeed | None = None) -> None:
        self.stats = stats
        self.webhooks = webhooks
        self.feed = feed

    def collect(self) -> Iterator[Metric]:
        s = self.stats()
        yield GaugeMetricFamily("icv_alarm_lag_records", "Log records not yet evaluated by the alarm consumer",
                                value=s.lag())
        yield CounterMetricFamily("icv_alarm_reports_evaluated", "Positions evaluated by the rule engine",
                                  value=s.positions)
        yield CounterMetricFamily("icv_alarm_engine_seconds", "Time spent inside the rule engine", value=s.engine_s)
        yield CounterMetricFamily("icv_alarm_events", "Events from the rule engine", value=s.events)
        yield CounterMetricFamily("icv_alarm_changes", "Alarm changes stored", value=s.alarms_changed)
        yield CounterMetricFamily("icv_alarm_checkpoints", "Engine checkpoints stored", value=s.checkpoints)
        h = HistogramMetricFamily("icv_alarm_latency_seconds", "Report received by the gateway to its alarm stored "
                                                               "and published")
        h.add_metric([], s.alarm_latency.cumulative(), s.alarm_latency.total)
        yield h
        webhooks = self.webhooks()
        if webhooks is not None:
            w = CounterMetricFamily("icv_webhook_attempts", "Webhook delivery attempts", labels=["outcome"])
            w.add_metric(["delivered"], webhooks.delivered)
            w.add_metric(["failed"], webhooks.failed_attempts)
            yield w
        if self.feed is not None:
            yield GaugeMetricFamily("icv_alarm_feed_subscribers", "WebSocket subscribers of the alarm feed",
                                    value=self.feed.subscribers)
