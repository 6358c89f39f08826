"""Scenario 5, known-solution matching: what one description costs to match against 1,000
solutions (issue 16's target: < 5 ms), on SQLite FTS5 or PostgreSQL tsvector.

    python -m bench.solutions [--solutions 1000] [--descriptions 2000] [--db ...]

The solutions and descriptions are generated from one seeded vocabulary of Latin and Cyrillic
words whose use follows Zipf's law, as words in real text do, so frequent words match many
solutions and the ranking has real work. Each description is matched the way the intake
matches it: a session of its own, ``storage.solutions.match`` (terms, category filter, rank,
top 3). Wall time and process CPU per match are recorded; the database server's CPU is not.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from datetime import UTC, datetime

from bench.common import Backend, parser, pct, run, save, show
from handlers.config import DeskConfig, Solution
from storage import solutions
from storage.db import make_engine, make_sessions
from storage.migrate import upgrade

SEED = 16
WARM_UP = 100
_LATIN = ["pr", "in", "te", "ra", "ck", "jo", "mu", "se", "va", "lo", "ne", "tor", "ble", "dis"]
_CYRILLIC = ["пр", "ин", "те", "ра", "ко", "жу", "ва", "ло", "не", "тор", "бле", "зав", "ус", "ки"]


def vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    """Distinct made-up words, half Latin and half Cyrillic, of two to four syllables."""
    words: set[str] = set()
    while len(words) < size:
        syllables = _LATIN if len(words) % 2 else _CYRILLIC
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class Text:
    """Word sequences drawn from ``words`` with Zipf weights (rank r has weight 1/r)."""

    def __init__(self, rng: random.Random, words: list[str]) -> None:
        self._rng = rng
        rng.shuffle(words)
        self._words = words
        self._cumulative = list(itertools.accumulate(1 / rank for rank in range(1, len(words) + 1)))

    def __call__(self, low: int, high: int) -> str:
        count = self._rng.randint(low, high)
        return " ".join(self._rng.choices(self._words, cum_weights=self._cumulative, k=count))


def generated(rng: random.Random, text: Text, count: int, config: DeskConfig) -> list[Solution]:
    categories = [c.id for c in config.categories]
    return [
        Solution(
            id=f"s{n}",
            categories=rng.sample(categories, rng.randint(1, 2)),
            keywords=text(3, 8).split(),
            title={"en": text(3, 8), "uk": text(3, 8)},
            answer={"en": text(20, 60), "uk": text(20, 60)},
        )
        for n in range(count)
    ]


async def main(args: argparse.Namespace) -> None:
    backend = Backend(args.db)
    rng = random.Random(SEED)
    config = DeskConfig()
    text = Text(rng, vocabulary(rng))
    known = generated(rng, text, args.solutions, config)
    asked = [
        (text(6, 30), rng.choice(config.categories).id) for _ in range(WARM_UP + args.descriptions)
    ]
    engine = make_engine(await backend.fresh())
    try:
        await upgrade(engine)
        sessions = make_sessions(engine)
        async with sessions.begin() as session:
            await solutions.sync_config(session, known, [], datetime.now(UTC))
        walls, cpus, found = [], [], []
        for n, (description, category) in enumerate(asked):
            wall, cpu = time.perf_counter(), time.process_time()
            async with sessions() as session:
                matched = await solutions.match(session, description, category)
            if n >= WARM_UP:
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
                found.append(len(matched))
    finally:
        await engine.dispose()
        backend.cleanup()
    results = {
        "db": args.db,
        "solutions": args.solutions,
        "descriptions": args.descriptions,
        "match_ms": pct(walls),
        "cpu_us_per_match": round(1e6 * sum(cpus) / len(cpus)),
        "offered_per_description": round(sum(found) / len(found), 2),
        "descriptions_with_an_offer": round(sum(1 for f in found if f) / len(found), 3),
    }
    show(
        f"known-solution matching, {args.solutions} solutions, {args.db}",
        [(key, value) for key, value in results.items() if key != "db"],
    )
    save(f"solutions-{args.db}", results)


if __name__ == "__main__":
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--solutions", type=int, default=1000)
    cli.add_argument("--descriptions", type=int, default=2000)
    run(main, cli.parse_args())
