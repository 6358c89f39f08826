"""Print the latest results of every scenario (bench/results/*.json) as one Markdown table,
with the targets of issue 7.

    python -m bench.summary
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from bench.common import RESULTS, Json

Row = tuple[str, str, str, str, str]  # scenario, metric, target, measured, verdict
Check = Callable[[Any], bool]


def _get(data: Json, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _show(value: Any) -> str:
    if isinstance(value, dict) and "p99" in value:
        return f"{value['p50']} / {value['p99']} / {value['max']}"
    if isinstance(value, dict) and "inbound_statements" in value:
        return (
            f"in {value.get('inbound_statements', 0)} + {value.get('inbound_commits', 0)} commits, "
            f"out {value.get('other_statements', 0)} + {value.get('other_commits', 0)} commits"
        )
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def row(
    data: Json, scenario: str, metric: str, path: str, target: str = "", ok: Check | None = None
) -> Row:
    value = _get(data, path)
    verdict = "" if ok is None or value is None else ("✓" if ok(value) else "✗")
    return scenario, metric, target, "—" if value is None else _show(value), verdict


def intake(data: Json) -> Iterator[Row]:
    name = "intake"
    yield row(
        data, name, "updates/s, closed loop", "ours.updates_per_s", "≥ 400", lambda v: v >= 400
    )
    yield row(data, name, "updates/s, bare PTB bot", "baseline.updates_per_s")
    yield row(data, name, "CPU µs/update, ours", "ours.cpu_us_per_update")
    yield row(data, name, "CPU µs/update, bare PTB bot", "baseline.cpu_us_per_update")
    yield row(
        data, name, "CPU ours/bare PTB bot", "cpu_ratio_ours_to_baseline", "≤ 2", lambda v: v <= 2
    )
    same = "baseline_our_stack"
    yield row(data, name, "CPU µs/update, bare bot on our stack", f"{same}.cpu_us_per_update")
    yield row(data, name, "CPU ours/bare bot on our stack", f"cpu_ratio_ours_to_{same}")
    yield row(data, name, "DB round trips/update", "ours.db_per_update")
    yield row(data, name, "latency ms p50/p99/max, closed loop", "ours.latency_ms")
    for key in data:
        if key.startswith("ours_paced_"):
            rate = float(key.removeprefix("ours_paced_"))
            yield row(
                data,
                name,
                f"updates/s when offered {rate:g}/s",
                f"{key}.updates_per_s",
                "keeps up",
                lambda v, r=rate: v >= 0.97 * r,
            )
            yield row(
                data,
                name,
                f"latency ms p50/p99/max at {rate:g}/s",
                f"{key}.latency_ms",
                "p99 < 50",
                lambda v: v["p99"] < 50,
            )
            yield row(data, name, f"first reply sent, ms, at {rate:g}/s", f"{key}.reply_lag_ms")
            yield row(
                data,
                name,
                f"answer complete, ms p50/p99/max, at {rate:g}/s",
                f"{key}.answer_complete_ms",
                "p99 < 300" if rate == 50 else "",
                (lambda v: v["p99"] < 300) if rate == 50 else None,
            )
            yield row(
                data, name, f"HTTP 429s at {rate:g}/s", f"{key}.http_429", "0", lambda v: v == 0
            )


def claim_storm(data: Json) -> Iterator[Row]:
    name = "claim storm"
    yield row(data, name, "clicks (operators × tickets)", "clicks")
    yield row(data, name, "clicks/s", "clicks_per_s")
    yield row(data, name, "click → claimed ms p50/p99/max", "click_to_claimed_ms")
    yield row(data, name, "ack ms p50/p99/max", "ack_ms", "max < 3000", lambda v: v["max"] < 3000)
    yield row(
        data, name, "one winner per ticket", "check.exactly_one_winner_per_ticket", "yes", bool
    )


def delivery(data: Json) -> Iterator[Row]:
    name = "delivery"
    for platform, limit in (("telegram", "30/s per bot"), ("slack", "1/s per channel")):
        yield row(
            data,
            name,
            f"{platform}: fraction of {limit}",
            f"{platform}.fraction_of_limit",
            "≥ 0.9",
            lambda v: v >= 0.9,
        )
        yield row(
            data, name, f"{platform}: HTTP 429s", f"{platform}.http_429", "0", lambda v: v == 0
        )
        yield row(data, name, f"{platform}: drain s", f"{platform}.drain_s")
        yield row(data, name, f"{platform}: drain s at the limit", f"{platform}.ideal_drain_s")


def memory(data: Json) -> Iterator[Row]:
    name = "memory"
    yield row(data, name, "idle RSS MB", "idle_rss_mb")
    yield row(
        data,
        name,
        "RSS bytes per conversation",
        "with_conversations.rss_bytes_each",
        "< 2048",
        lambda v: v < 2048,
    )
    yield row(
        data,
        name,
        "Python heap bytes per conversation",
        "with_conversations.python_heap_bytes_each",
    )
    yield row(
        data,
        name,
        "RSS bytes per conversation, second 5,000",
        "with_conversations_second_half.rss_bytes_each",
    )
    yield row(data, name, "RSS bytes per open ticket", "with_tickets.rss_bytes_each")


def demo_start(data: Json) -> Iterator[Row]:
    yield row(
        data,
        "demo_start",
        "ms to serve the page, p50 / p99 / max",
        "time_to_serve_ms",
        "< 5000",
        lambda v: v["max"] < 5000,
    )


def solutions(data: Json) -> Iterator[Row]:
    name = "known solutions"
    yield row(data, name, "solutions searched", "solutions")
    yield row(data, name, "descriptions matched", "descriptions")
    yield row(data, name, "match ms p50/p99/max", "match_ms", "p99 < 5", lambda v: v["p99"] < 5)
    yield row(data, name, "CPU µs/match", "cpu_us_per_match")
    yield row(data, name, "offered per description", "offered_per_description")


def broadcast(data: Json) -> Iterator[Row]:
    name = "broadcast"
    yield row(data, name, "requesters", "requesters")
    yield row(data, name, "of them blocked the bot", "blocked")
    yield row(data, name, "telegram: HTTP 429s", "telegram.http_429", "0", lambda v: v == 0)
    yield row(data, name, "telegram: drain s", "telegram.drain_s")
    yield row(data, name, "telegram: drain s at the broadcast's pace", "telegram.ideal_drain_s")
    yield row(data, name, "share of the bot's 30/s used", "telegram.share_of_bot_limit")
    attempts = "most_attempts_per_message"
    yield row(data, name, "most attempts per message", attempts, "1", lambda v: v == 1)
    yield row(data, name, "the incident's card says", "card_says")
    yield row(data, name, "CPU µs/message", "cpu_us_per_message")


def busy_hour(data: Json) -> Iterator[Row]:
    name = "busy hour"
    for key in data:
        if key.startswith("n") and key[1:].isdigit():
            tickets = key[1:]
            yield row(
                data,
                name,
                f"{tickets} tickets: requester → Slack thread, ms p50/p99/max",
                f"{key}.requester_to_thread_ms",
                "p99 < 10000",
                lambda v: v["p99"] < 10_000,
            )
            yield row(
                data,
                name,
                f"{tickets} tickets: operator → requester, ms p50/p99/max",
                f"{key}.operator_to_requester_ms",
            )
            yield row(data, name, f"{tickets} tickets: HTTP 429s", f"{key}.http_429")


SCENARIOS: dict[str, Callable[[Json], Iterator[Row]]] = {
    "intake": intake,
    "claim_storm": claim_storm,
    "delivery": delivery,
    "memory": memory,
    "demo_start": demo_start,
    "solutions": solutions,
    "broadcast": broadcast,
    "busy_hour": busy_hour,
}


def main() -> None:
    """One row per metric, one column per database (``✓``/``✗``: target met or missed)."""
    table: dict[tuple[str, str, str], dict[str, str]] = {}
    databases: list[str] = []
    for path in sorted(RESULTS.glob("*.json")):
        scenario = SCENARIOS.get(path.stem.rsplit("-", 1)[0])
        if scenario is None:
            continue
        data = json.loads(path.read_text())
        db = str(data.get("db", "?"))
        databases += [db] if db not in databases else []
        for name, metric, target, measured, verdict in scenario(data):
            table.setdefault((name, metric, target), {})[db] = f"{measured} {verdict}".strip()
    databases.sort(key=lambda db: db != "sqlite")
    if not table:
        print("no results yet: run a scenario first (see bench/README.md)")
        return
    print("| scenario | metric | target | " + " | ".join(databases) + " |")
    print("|---|---|---|" + "---|" * len(databases))
    for (name, metric, target), measured in table.items():
        cells = [measured.get(db, "") for db in databases]
        print(f"| {name} | {metric} | {target} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
