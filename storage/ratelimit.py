"""Outbound pacing shared by every sender and, with Redis, by every process.

A :class:`Rule` is "at most one request per ``interval`` seconds under ``key``" (a chat, a
channel, a Slack method, the whole bot). :meth:`RateLimiter.acquire` reserves the earliest
instant at which *all* the given rules allow a request, atomically for all of them, and sleeps
until then. Reservations are first come, first served, so requests to a busy key queue in
order, and different keys do not wait for each other.

Spacing requests evenly (rather than allowing bursts) is what keeps us under the platforms'
sliding windows: a rule of 1 per 3 s never exceeds 20 per minute in any minute.

The state is the next free instant per key: in this process's memory, or in Redis (one Lua
script, Redis's own clock) so that several processes share one budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from redis.asyncio import Redis

PREFIX = "helpdesk:rl:"


class Passage:
    """Whether a request of one task got past its wait here (and so may have reached the
    platform); ``on_pass`` is called when it does."""

    def __init__(self, on_pass: Callable[[], None] = lambda: None) -> None:
        self.passed = False
        self._on_pass = on_pass

    def mark(self) -> None:
        if not self.passed:
            self.passed = True
            self._on_pass()


_passage: ContextVar[Passage | None] = ContextVar("passage", default=None)


def watch(on_pass: Callable[[], None] = lambda: None) -> Passage:
    """From now on in this task, the returned :class:`Passage` tells whether a request got past
    its wait: a send cancelled before that can be put back."""
    passage = Passage(on_pass)
    _passage.set(passage)
    return passage


# KEYS: the rules' keys. ARGV[1]: the longest acceptable wait, ARGV[2..]: each key's interval,
# all in microseconds. Returns {1, wait} after reserving, {0, wait} when the wait is too long.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local start = now
for i, key in ipairs(KEYS) do
  local free = tonumber(redis.call('GET', key) or '0')
  if free > start then start = free end
end
local wait = start - now
if wait > tonumber(ARGV[1]) then return {0, wait} end
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[i + 1])
  redis.call('SET', key, string.format('%d', start + interval), 'PX',
             math.floor((wait + interval) / 1000) + 1000)
end
return {1, wait}
"""
# KEYS: the rules' keys, ARGV: each key's interval in microseconds. Pushes each key's next free
# instant to at least now + interval.
_SETTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[i])
  if tonumber(redis.call('GET', key) or '0') < now + interval then
    redis.call('SET', key, string.format('%d', now + interval), 'PX',
               math.floor(interval / 1000) + 1000)
  end
end
return 0
"""


@dataclass(frozen=True)
class Rule:
    key: str
    interval: float  # seconds between two requests under this key; 0 = unlimited
    # Requests under the key go one after another (one chat): also space each from the end of
    # the one before, so a request that was slow to leave cannot bunch up with the next.
    serial: bool = False


class Throttled(Exception):
    """The next free slot is further away than the caller is willing to wait."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limit: next free slot in {wait:.1f}s")
        self.wait = wait


class RateLimiter:
    def __init__(self, redis: Redis | None = None, max_wait: float = 20.0) -> None:
        self._redis = redis
        self._max_wait = max_wait
        self._free: dict[str, float] = {}  # in-process: key -> next free monotonic instant
        self._script = redis.register_script(_RESERVE) if redis is not None else None
        self._settle = redis.register_script(_SETTLE) if redis is not None else None

    async def acquire(self, rules: Sequence[Rule]) -> float:
        """Wait until every rule allows one more request; return how long that took.

        Raises :class:`Throttled` (reserving nothing) if that would take longer than
        ``max_wait``: a caller holding a lease on its message must not outwait it."""
        rules = [r for r in rules if r.interval > 0]
        wait = 0.0
        if rules:
            reserve = self._reserve_redis if self._script else self._reserve_local
            wait = await reserve(rules)
            if wait > 0:
                await asyncio.sleep(wait)
        passage = _passage.get()
        if passage is not None:
            passage.mark()
        return wait

    async def settle(self, rules: Sequence[Rule]) -> None:
        """Call when a request paced by ``rules`` is answered (or failed)."""
        serial = [r for r in rules if r.serial and r.interval > 0]
        if not serial:
            return
        if self._settle is not None:
            micros = [round(r.interval * 1e6) for r in serial]
            await self._settle(keys=[PREFIX + r.key for r in serial], args=micros)
            return
        now = time.monotonic()
        for rule in serial:
            self._free[rule.key] = max(self._free.get(rule.key, 0.0), now + rule.interval)

    async def _reserve_local(self, rules: list[Rule]) -> float:
        now = time.monotonic()
        start = max([now, *(self._free.get(r.key, 0.0) for r in rules)])
        if start - now > self._max_wait:
            raise Throttled(start - now)
        for rule in rules:
            self._free[rule.key] = start + rule.interval
        return start - now

    async def _reserve_redis(self, rules: list[Rule]) -> float:
        assert self._script is not None
        micros = [round(self._max_wait * 1e6), *(round(r.interval * 1e6) for r in rules)]
        reserved, wait = await self._script(keys=[PREFIX + r.key for r in rules], args=micros)
        if not reserved:
            raise Throttled(int(wait) / 1e6)
        return int(wait) / 1e6
