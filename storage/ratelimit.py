"""Outbound pacing shared by every sender and, with Redis, by every process.

A :class:`Rule` is a token bucket under ``key`` (a chat, a channel, a Slack method, the whole
bot): ``burst`` requests may go at once after a quiet spell, then one every ``interval`` seconds;
``burst`` 1 spaces every request ``interval`` apart. :meth:`RateLimiter.acquire` reserves the
earliest instant at which *all* the given rules allow a request, atomically for all of them,
and sleeps until then. Reservations are first come, first served, so requests to a busy key
queue in order, and different keys do not wait for each other.

A bucket is one number per key, its *theoretical arrival time* (the generic cell rate
algorithm): each request moves it ``interval`` later (from now, if it lies in the past), and a
request may go once it is no more than ``(burst - 1) * interval`` ahead. Past a burst, requests
go at the refill rate, evenly: a rule of 1 per 3 s never exceeds 20 per minute in any minute.
The state lives in this process's memory, or in Redis (one Lua script, Redis's own clock) so
that several processes share one budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field

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


# KEYS: the rules' keys. ARGV[1]: the longest acceptable wait; ARGV[2i], ARGV[2i+1]: key i's
# interval and burst allowance ((burst - 1) * interval); all in microseconds. Returns
# {1, wait, start, each key's new arrival time} after reserving, {0, wait} when the wait is too
# long. The arithmetic is reserve() below.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local start = now
local tats = {}
for i, key in ipairs(KEYS) do
  tats[i] = tonumber(redis.call('GET', key) or '0')
  local allowed = tats[i] - tonumber(ARGV[2 * i + 1])
  if allowed > start then start = allowed end
end
local wait = start - now
if wait > tonumber(ARGV[1]) then return {0, wait} end
local reply = {1, wait, start}
for i, key in ipairs(KEYS) do
  local tat = math.max(tats[i], start) + tonumber(ARGV[2 * i])
  redis.call('SET', key, string.format('%d', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
  reply[#reply + 1] = tat
end
return reply
"""
# KEYS: the serial rules' keys. ARGV[1]: when the request was allowed to go, ARGV[1+i]: key i's
# arrival time as that request left it; microseconds. Moves each later by how late the answer
# came (see settled()).
_SETTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local late = math.max(0, now - tonumber(ARGV[1]))
for i, key in ipairs(KEYS) do
  local tat = tonumber(ARGV[i + 1]) + late
  if tonumber(redis.call('GET', key) or '0') < tat then
    redis.call('SET', key, string.format('%d', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
  end
end
return 0
"""


@dataclass(frozen=True)
class Rule:
    key: str
    interval: float  # seconds per refilled request under this key; 0 = unlimited
    # Requests under the key go one after another (one chat): each is also counted from when
    # its answer came, so a request that was slow to leave cannot bunch up with the next.
    serial: bool = False
    burst: int = 1  # requests that may go at once when the bucket is full

    @property
    def allowance(self) -> float:
        """How far ahead of the bucket's arrival time a request may go."""
        return (self.burst - 1) * self.interval


@dataclass(frozen=True)
class Reservation:
    """A request's place: ``wait`` seconds from when it asked, at ``start``, leaving each
    rule's arrival time at ``arrivals[key]`` (``start`` and ``arrivals`` on the limiter's own
    clock: this process's monotonic seconds, or Redis's microseconds)."""

    wait: float
    start: float = 0.0
    arrivals: Mapping[str, float] = field(default_factory=dict)


def reserve(arrivals: Mapping[str, float], rules: Sequence[Rule], now: float) -> Reservation:
    """The earliest instant at or after ``now`` that every rule's bucket allows, given each
    key's arrival time (missing: a full bucket), and the arrival times one more request leaves."""
    start = max([now, *(arrivals.get(r.key, 0.0) - r.allowance for r in rules)])
    after = {r.key: max(arrivals.get(r.key, 0.0), start) + r.interval for r in rules}
    return Reservation(start - now, start, after)


def settled(reservation: Reservation, key: str, now: float) -> float:
    """A serial key's arrival time once its request is answered at ``now``: the platform may
    have counted the request that late, so the bucket's schedule moves by as much."""
    return reservation.arrivals[key] + max(0.0, now - reservation.start)


class Throttled(Exception):
    """The next free slot is further away than the caller is willing to wait."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limit: next free slot in {wait:.1f}s")
        self.wait = wait


class RateLimiter:
    def __init__(self, redis: Redis | None = None, max_wait: float = 20.0) -> None:
        self._redis = redis
        self._max_wait = max_wait
        self._arrivals: dict[str, float] = {}  # in-process: key -> monotonic arrival time
        self._script = redis.register_script(_RESERVE) if redis is not None else None
        self._settle = redis.register_script(_SETTLE) if redis is not None else None

    async def acquire(self, rules: Sequence[Rule]) -> Reservation:
        """Wait until every rule allows one more request; the reservation says how long that
        took and is what :meth:`settle` needs.

        Raises :class:`Throttled` (reserving nothing) if that would take longer than
        ``max_wait``: a caller holding a lease on its message must not outwait it."""
        rules = [r for r in rules if r.interval > 0]
        reservation = Reservation(0.0)
        if rules:
            book = self._reserve_redis if self._script else self._reserve_local
            reservation = await book(rules)
            if reservation.wait > 0:
                await asyncio.sleep(reservation.wait)
        passage = _passage.get()
        if passage is not None:
            passage.mark()
        return reservation

    async def settle(self, rules: Sequence[Rule], reservation: Reservation) -> None:
        """Call when a request paced by ``rules`` and ``reservation`` is answered (or failed)."""
        serial = [r for r in rules if r.serial and r.key in reservation.arrivals]
        if not serial:
            return
        if self._settle is not None:
            args = [round(reservation.start), *(round(reservation.arrivals[r.key]) for r in serial)]
            await self._settle(keys=[PREFIX + r.key for r in serial], args=args)
            return
        now = time.monotonic()
        for rule in serial:
            moved = settled(reservation, rule.key, now)
            self._arrivals[rule.key] = max(self._arrivals.get(rule.key, 0.0), moved)

    async def _reserve_local(self, rules: list[Rule]) -> Reservation:
        reservation = reserve(self._arrivals, rules, time.monotonic())
        if reservation.wait > self._max_wait:
            raise Throttled(reservation.wait)
        self._arrivals.update(reservation.arrivals)
        return reservation

    async def _reserve_redis(self, rules: list[Rule]) -> Reservation:
        """The same as :meth:`_reserve_local` in Redis; times in Redis's microseconds."""
        assert self._script is not None
        args = [round(self._max_wait * 1e6)]
        for rule in rules:
            args += [round(rule.interval * 1e6), round(rule.allowance * 1e6)]
        reply = await self._script(keys=[PREFIX + r.key for r in rules], args=args)
        wait = int(reply[1]) / 1e6
        if not reply[0]:
            raise Throttled(wait)
        arrivals = {r.key: float(tat) for r, tat in zip(rules, reply[3:], strict=True)}
        return Reservation(wait, float(reply[2]), arrivals)
