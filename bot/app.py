"""The running desk: builds storage, the core, the adapters and the HTTP server, and runs them.

One :class:`HelpdeskApp` is one process. Tests start it exactly as ``helpdesk run`` does, with
settings that point the platform clients at fake servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from redis.asyncio import Redis
from telegram import Update

from bot.config import Settings
from bot.slack import EVENTS_PATH, SlackAdapter
from bot.telegram import TelegramAdapter, TelegramSender, build_application
from escalation.second_line import SecondLine
from handlers.config import DeskConfig
from handlers.delivery import DeliveryWorker, Sender
from handlers.desk import Desk
from storage.conversations import DatabaseConversations, RedisConversations, utc_now
from storage.db import make_engine, make_sessions
from storage.dedupe import Dedupe
from storage.migrate import upgrade

log = logging.getLogger(__name__)

TELEGRAM_WEBHOOK_PATH = "/telegram/webhook"


class HelpdeskApp:
    def __init__(
        self,
        settings: Settings,
        config: DeskConfig,
        clock: Callable[[], datetime] = utc_now,
        telegram_spacing: float = 1.0,
        slack_spacing: float = 1.0,
        housekeeping_every: float = 30.0,
    ) -> None:
        self.settings = settings
        self.config = config
        self.clock = clock
        self.engine = make_engine(settings.database_url)
        self.sessions = make_sessions(self.engine)
        self.redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        conversations = (
            RedisConversations(self.redis) if self.redis is not None else DatabaseConversations()
        )
        self.dedupe = Dedupe(self.sessions, self.redis)
        self.desk = Desk(
            self.sessions,
            config,
            conversations,
            clock,
            settings.slack_operators_channel,
            on_commit=self._wake_delivery,
        )
        self.second_line = SecondLine(self.desk)
        self._telegram_spacing = telegram_spacing
        self._slack_spacing = slack_spacing
        self._housekeeping_every = housekeeping_every
        self.telegram: TelegramAdapter | None = None
        self.slack: SlackAdapter | None = None
        self.worker: DeliveryWorker | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None

    def _wake_delivery(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    async def start(self) -> None:
        await upgrade(self.engine)
        senders: dict[str, Sender] = {}
        if self.settings.telegram_enabled:
            application = build_application(
                self.settings.telegram_bot_token.get_secret_value(), self.settings.telegram_api_url
            )
            self.telegram = TelegramAdapter(application, self.desk, self.dedupe)
            senders["telegram"] = TelegramSender(application, self._telegram_spacing)
        if self.settings.slack_enabled:
            self.slack = SlackAdapter(self.settings, self.desk, self.dedupe, self._slack_spacing)
            senders["slack"] = self.slack.sender
        # Delivery retries run on wall-clock time even when the desk's clock is a test's.
        self.worker = DeliveryWorker(self.sessions, senders, utc_now, self.desk.after_delivery)
        self._tasks.append(asyncio.create_task(self.worker.run(), name="delivery"))
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
        if self.telegram is not None:
            await self._start_telegram(self.telegram)
        if self.slack is not None and self.settings.slack_mode == "socket":
            await self.slack.connect_socket_mode(self.settings.slack_app_token.get_secret_value())
        await self._start_http()

    async def _start_telegram(self, adapter: TelegramAdapter) -> None:
        application = adapter.application
        await application.initialize()
        await application.start()
        await adapter.publish_commands()
        if self.settings.telegram_mode == "polling":
            await application.bot.delete_webhook()
            assert application.updater is not None
            await application.updater.start_polling(
                poll_interval=0.0, timeout=10, allowed_updates=Update.ALL_TYPES
            )
        else:
            await application.bot.set_webhook(
                self.settings.telegram_webhook_url,
                secret_token=self.settings.telegram_webhook_secret.get_secret_value(),
                allowed_updates=Update.ALL_TYPES,
            )

    def _needs_http(self) -> bool:
        telegram_hook = self.settings.telegram_enabled and self.settings.telegram_mode == "webhook"
        slack_http = self.settings.slack_enabled and self.settings.slack_mode == "http"
        return telegram_hook or slack_http

    async def _start_http(self) -> None:
        if not self._needs_http():
            return
        web_app = web.Application(client_max_size=1024 * 1024)
        web_app.router.add_get("/healthz", self._healthz)
        if self.telegram is not None and self.settings.telegram_mode == "webhook":
            web_app.router.add_post(TELEGRAM_WEBHOOK_PATH, self._telegram_webhook)
        if self.slack is not None and self.settings.slack_mode == "http":
            web_app.router.add_post(EVENTS_PATH, self.slack.handle_http)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        log.info("HTTP on %s:%s", self.settings.http_host, self.settings.http_port)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def _telegram_webhook(self, request: web.Request) -> web.Response:
        """Telegram's POSTs: refused unless they carry our secret token."""
        assert self.telegram is not None
        secret = self.settings.telegram_webhook_secret.get_secret_value()
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != secret:
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        try:
            data = await request.json()
            update = Update.de_json(data, self.telegram.application.bot)
        except Exception:  # malformed JSON or not an update: say so, do not crash
            return web.json_response({"ok": False, "error": "malformed update"}, status=400)
        if update is None:
            return web.json_response({"ok": False, "error": "malformed update"}, status=400)
        await self.telegram.application.update_queue.put(update)
        return web.json_response({"ok": True})

    async def _housekeeping(self) -> None:
        """Now and then: expire idle conversations, close unanswered resolutions, and fire due
        SLA reminders and breaches (each once, whichever process gets there first)."""
        while True:
            try:
                await self.desk.housekeeping()
                await self.second_line.fire_due()
            except Exception:
                log.exception("housekeeping failed; trying again later")
            await asyncio.sleep(self._housekeeping_every)

    async def stop(self, grace: float = 5.0) -> None:
        if self.telegram is not None:
            application = self.telegram.application
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            await application.shutdown()
        if self.slack is not None:
            await self.slack.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.worker is not None:
            await self.worker.stop(grace)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
