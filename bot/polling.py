"""Telegram long polling by exactly one process, and without losing an update to a crash.

Of several processes only the holder of the ``telegram-poller`` lease (storage/leases.py)
calls ``getUpdates``; it renews the lease every few seconds in the background. The others try
for the lease every few seconds and take over when the holder stops renewing it: at once when
it stopped (it gives the lease up), at most the lease's ttl (``TELEGRAM_POLL_LEASE``) later
when it died.

Telegram forgets an update once a later ``getUpdates`` passes an offset beyond it. This loop
processes a whole batch (updates of one chat in order, chats in parallel) before it asks for
the next one, so a crash mid-batch leaves the batch unconfirmed and it is fetched again; the
updates that were processed are recognised by storage/dedupe.py and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from storage.leases import Lease

log = logging.getLogger(__name__)


class TelegramPoller:
    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        lease: Lease,
        timeout: int = 10,
        retry: float = 2.0,
        on_leader: Callable[[bool], None] = lambda leader: None,
    ) -> None:
        self._application = application
        self._lease = lease
        self._timeout = timeout
        self._retry = retry
        self._on_leader = on_leader
        self._stopping = asyncio.Event()
        self._fetch: asyncio.Future[Sequence[Update]] | None = None
        self._offset: int | None = None
        self._handed_over = asyncio.Event()
        self._running = False
        self.leader = False

    async def run(self) -> None:
        self._running = True
        try:
            while not self._stopping.is_set():
                if not await self._hold():
                    await self._pause(self._retry)
                    continue
                keeper = asyncio.create_task(self._keep())
                try:
                    await self._poll()
                finally:
                    keeper.cancel()
        finally:
            try:
                await self._hand_over()
            finally:
                self._handed_over.set()

    async def _poll(self) -> None:
        """Fetch and process batches while we hold the lease."""
        while self.leader and not self._stopping.is_set():
            updates = await self._next_batch()
            if updates:
                await self._process(updates)
                self._offset = updates[-1].update_id + 1

    async def _keep(self) -> None:
        """Renew the lease; if it was lost, abandon the pending ``getUpdates`` at once."""
        while self.leader:
            await asyncio.sleep(self._lease.ttl.total_seconds() / 3)
            if not await self._hold() and self._fetch is not None:
                self._fetch.cancel()

    async def stop(self, wait: float = 5.0) -> None:
        """Stop after the batch in work; a pending ``getUpdates`` is abandoned (not confirmed).
        Returns once what was processed is confirmed and the lease given up (at most ``wait``
        seconds), so a process started next can poll at once."""
        self._stopping.set()
        if self._fetch is not None:
            self._fetch.cancel()
        if self._running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._handed_over.wait(), wait)

    async def _hold(self) -> bool:
        try:
            held = await self._lease.hold()
        except Exception:
            log.exception("cannot reach the polling lease; not polling for now")
            held = False
        if held != self.leader:
            log.info("telegram polling %s by %s", "taken" if held else "lost", self._lease.holder)
            self.leader = held
            self._on_leader(held)
        return held

    async def _next_batch(self) -> Sequence[Update]:
        self._fetch = asyncio.ensure_future(
            self._application.bot.get_updates(
                offset=self._offset, timeout=self._timeout, allowed_updates=Update.ALL_TYPES
            )
        )
        try:
            return await self._fetch
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # we are being cancelled, not just the request
            return ()  # abandoned: stopping, or the lease was lost
        except TelegramError as exc:  # 409 while another poller winds down, network trouble
            log.warning("getUpdates failed: %s", exc)
            await self._pause(1.0)
            return ()
        finally:
            self._fetch = None

    async def _process(self, updates: Sequence[Update]) -> None:
        by_chat: dict[object, list[Update]] = {}
        for update in updates:
            chat = update.effective_chat
            by_chat.setdefault(chat.id if chat else f"u{update.update_id}", []).append(update)
        await asyncio.gather(*(self._in_order(batch) for batch in by_chat.values()))

    async def _in_order(self, updates: list[Update]) -> None:
        for update in updates:
            try:
                await self._application.process_update(update)
            except Exception:
                log.exception("telegram update %s failed", update.update_id)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _hand_over(self) -> None:
        """Confirm what was processed and give the lease up, so another process goes on."""
        if not self.leader:
            return
        if self._offset is not None:
            with contextlib.suppress(Exception):
                await self._application.bot.get_updates(offset=self._offset, timeout=0, limit=1)
        with contextlib.suppress(Exception):
            await self._lease.release()
        self.leader = False
        self._on_leader(False)
