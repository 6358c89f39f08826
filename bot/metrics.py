"""Prometheus metrics of one process, served at ``GET /metrics``.

Counters are this process's own (sum them over processes); the gauges read from the database
at scrape time (outbox depth and age, tickets by status) are the same from every process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from handlers import report_query
from handlers.outcomes import Outcome, RetryLater, Sent
from handlers.reports import METRIC_HELP, Sample, parse_period, samples
from handlers.tickets import FINAL_STATUSES, Status
from storage import outbox
from storage import tickets as store
from storage.db import SessionFactory
from storage.models import OutboxRow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


REPORT_EVERY = timedelta(minutes=5)


class ReportGauges(Collector):
    """The desk's key figures over the last seven days (handlers/reports/) as gauges. A
    figure that drops out (an operator who did nothing this week) disappears with it."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.computed_at: datetime | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_name: dict[str, list[Sample]] = {}
        for sample in self.samples:
            by_name.setdefault(sample.name, []).append(sample)
        for name, group in by_name.items():
            family = GaugeMetricFamily(
                name, METRIC_HELP.get(name, name), labels=[k for k, _ in group[0].labels]
            )
            for sample in group:
                family.add_metric([v for _, v in sample.labels], sample.value)
            yield family


class Metrics:
    def __init__(self, zone: ZoneInfo) -> None:
        self.registry = registry = CollectorRegistry()
        self.zone = zone
        self.report = ReportGauges()
        registry.register(self.report)
        self.updates = Counter(
            "helpdesk_updates",
            "Inbound Telegram updates and Slack events/clicks; result=new|duplicate",
            ["platform", "result"],
            registry=registry,
        )
        self.messages = Counter(
            "helpdesk_messages",
            "Outbound messages by outcome (sent, retry, undeliverable)",
            ["platform", "outcome"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "helpdesk_rate_limited",
            "429 answers received from a platform",
            ["platform"],
            registry=registry,
        )
        self.latency = Histogram(
            "helpdesk_delivery_seconds",
            "Seconds from writing a message to the outbox until the platform accepted it",
            ["platform"],
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800),
            registry=registry,
        )
        self.depth = Gauge(
            "helpdesk_outbox_depth", "Messages waiting in the outbox", registry=registry
        )
        self.oldest = Gauge(
            "helpdesk_outbox_oldest_age_seconds",
            "Age of the oldest message waiting in the outbox (0 if none)",
            registry=registry,
        )
        self.tickets = Gauge(
            "helpdesk_open_tickets",
            "Tickets not closed, rejected or cancelled, by status",
            ["status"],
            registry=registry,
        )
        self.poller = Gauge(
            "helpdesk_telegram_poller",
            "1 while this process is the one polling Telegram",
            registry=registry,
        )

    def update_seen(self, key: str, first: bool) -> None:
        platform = "telegram" if key.startswith("tg:") else "slack"
        self.updates.labels(platform, "new" if first else "duplicate").inc()

    def counter_of_429(self, platform: str) -> Callable[[], None]:
        return self.rate_limited.labels(platform).inc

    def delivered(self, row: OutboxRow, outcome: Outcome, now: datetime) -> None:
        match outcome:
            case Sent():
                name = "sent"
                self.latency.labels(row.platform).observe(
                    max(0.0, (now - row.created_at).total_seconds())
                )
            case RetryLater():
                name = "retry"
            case _:
                name = "undeliverable"
        self.messages.labels(row.platform, name).inc()

    async def render(self, sessions: SessionFactory, now: datetime) -> bytes:
        """The exposition text, with the database gauges read now."""
        async with sessions() as session:
            count, oldest = await outbox.depth(session)
            by_status = await store.count_by_status(session)
        if self.report.computed_at is None or now - self.report.computed_at >= REPORT_EVERY:
            async with sessions() as session:
                week = await report_query.report(session, parse_period("7d", now, self.zone))
            self.report.samples, self.report.computed_at = samples(week), now
        self.depth.set(count)
        self.oldest.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        for status in Status:
            if status not in FINAL_STATUSES:
                self.tickets.labels(status.value).set(by_status.get(status.value, 0))
        return generate_latest(self.registry)
