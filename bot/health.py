"""``GET /healthz``: can this process reach its database, Redis and platforms?

Each check gets a few seconds; the answer is cached briefly so that a busy probe does not turn
into a stream of ``getMe``/``auth.test`` calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

Check = Callable[[], Awaitable[object]]


class Health:
    def __init__(self, checks: dict[str, Check], timeout: float = 3.0, cache: float = 5.0) -> None:
        self._checks = checks
        self._timeout = timeout
        self.cache = cache
        self._last: tuple[float, dict[str, Any]] | None = None

    async def report(self) -> dict[str, Any]:
        """``{"ok": bool, "checks": {name: {"ok": bool, "error"?: str}}}``."""
        if self._last is not None and time.monotonic() - self._last[0] < self.cache:
            return self._last[1]
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(self._checks[name]) for name in names))
        checks = dict(zip(names, results, strict=True))
        report = {"ok": all(r["ok"] for r in results), "checks": checks}
        self._last = (time.monotonic(), report)
        return report

    async def _run(self, check: Check) -> dict[str, Any]:
        try:
            await asyncio.wait_for(check(), self._timeout)
        except Exception as exc:
            detail = str(exc).splitlines()[0] if str(exc) else ""
            return {"ok": False, "error": f"{type(exc).__name__}: {detail}"[:300]}
        return {"ok": True}
