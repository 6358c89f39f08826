"""The report as Prometheus samples."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.reports.figures import Report


@dataclass(frozen=True)
class Sample:
    """One gauge value for /metrics; ``name`` is a Prometheus metric name."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


METRIC_HELP = {
    "helpdesk_report_tickets_opened": "Tickets opened in the report window, by category",
    "helpdesk_report_first_response_seconds": "First-response time (wall clock) quantiles",
    "helpdesk_report_resolution_seconds": "Resolution time (wall clock) quantiles",
    "helpdesk_report_sla_breach_ratio": "Share of opened tickets with an SLA breach",
    "helpdesk_report_escalation_ratio": "Share of opened tickets escalated to a second line",
    "helpdesk_report_first_contact_resolution_ratio": "Share of resolved tickets never escalated",
    "helpdesk_report_reopen_ratio": "Share of resolved tickets reopened",
    "helpdesk_report_csat_average": "Average CSAT rating (1-5) in the window",
    "helpdesk_report_csat_answers": "CSAT answers in the window, by rating",
    "helpdesk_report_operator_tickets": "Tickets an operator claimed/took/escalated/resolved",
    "helpdesk_report_deflection_ratio": "Share of started intakes a known solution solved",
}


def samples(report: Report) -> list[Sample]:
    """The key figures as gauge samples (figures without data are left out)."""
    out: list[Sample] = []

    def add(name: str, value: float | None, **labels: str) -> None:
        if value is not None:
            out.append(Sample(name, tuple(sorted(labels.items())), float(value)))

    for category, n in report.by_category.items():
        add("helpdesk_report_tickets_opened", n, category=category)
    for name, figures in (
        ("helpdesk_report_first_response_seconds", report.first_response),
        ("helpdesk_report_resolution_seconds", report.resolution),
    ):
        for priority, times in (("all", figures.all), *figures.by_priority.items()):
            add(name, times.median, priority=priority, quantile="0.5")
            add(name, times.p90, priority=priority, quantile="0.9")
    add("helpdesk_report_sla_breach_ratio", report.sla_breached.rate)
    add("helpdesk_report_escalation_ratio", report.escalated.rate)
    add("helpdesk_report_first_contact_resolution_ratio", report.first_contact.rate)
    add("helpdesk_report_reopen_ratio", report.reopened.rate)
    add("helpdesk_report_csat_average", report.csat.average)
    add("helpdesk_report_deflection_ratio", report.deflected.rate)
    for rating, n in report.csat.distribution.items():
        add("helpdesk_report_csat_answers", n, rating=str(rating))
    for load in report.operators:
        for action in ("claimed", "taken", "escalated", "resolved"):
            value = getattr(load, action)
            add("helpdesk_report_operator_tickets", value, operator=load.ref, action=action)
    return out
