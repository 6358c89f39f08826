"""The running desk: builds storage, the core, the adapters and the HTTP server, and runs them.

One :class:`HelpdeskApp` is one process; several of them can share one PostgreSQL + Redis
(docs/operations.md). Tests start it exactly as ``helpdesk run`` does, with settings that point
the platform clients at fake servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import text
from telegram import Update

from bot import preflight
from bot.config import Settings
from bot.health import Check, Health
from bot.metrics import CONTENT_TYPE, Metrics
from bot.pacing import Limits, PacedWebClient, TelegramPacer
from bot.places import places_of
from bot.polling import TelegramPoller
from bot.slack import EVENTS_PATH, SlackAdapter
from bot.telegram import TelegramAdapter, TelegramSender, build_application
from bot.telegram_desk import TelegramDesk
from bot.telegram_desk_sender import TelegramDeskSender
from handlers.clock import utc_now
from handlers.config import DeskConfig
from handlers.delivery import DeliveryWorker
from handlers.desk import Desk
from handlers.outcomes import Sender
from handlers.reports import desk_zone
from storage import outbox, solutions
from storage.db import make_engine, make_sessions
from storage.dedupe import Dedupe
from storage.leases import Lease
from storage.migrate import upgrade
from storage.ratelimit import RateLimiter

log = logging.getLogger(__name__)

TELEGRAM_WEBHOOK_PATH = "/telegram/webhook"
OUTBOX_KEEP = timedelta(days=7)  # sent rows are kept this long (they also answer "processed?")
PURGE_EVERY = 3600.0


class HelpdeskApp:
    def __init__(
        self,
        settings: Settings,
        config: DeskConfig,
        clock: Callable[[], datetime] = utc_now,
        telegram_spacing: float | None = None,
        slack_spacing: float | None = None,
        housekeeping_every: float = 30.0,
    ) -> None:
        """``telegram_spacing`` / ``slack_spacing`` override the per-chat / per-channel (and
        Slack method) intervals of the settings: tests pass 0 to run unpaced."""
        self.settings = settings
        self.config = config
        self.clock = clock
        self.engine = make_engine(settings.database_url)
        self.sessions = make_sessions(self.engine)
        self.redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        self.metrics = Metrics(desk_zone(config))
        # Slack may deliver an event again while the first copy is in work: claims guard that.
        # One poller (or Telegram's webhook, which waits for our answer) never does: the desk
        # recognises a redelivered Telegram update inside its own transaction.
        self.dedupe = Dedupe(self.sessions, self.redis, observe=self.metrics.update_seen)
        self.desk = Desk(
            self.sessions, config, places_of(settings, config), clock, self._wake_delivery
        )
        self.limits = _limits(settings, telegram_spacing, slack_spacing)
        self.limiter = RateLimiter(self.redis)
        self._housekeeping_every = housekeeping_every
        self.telegram: TelegramAdapter | None = None
        self.slack: SlackAdapter | None = None
        self.worker: DeliveryWorker | None = None
        self.poller: TelegramPoller | None = None
        self.health: Health | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._metrics_runner: web.AppRunner | None = None
        self._accepting = True
        self._baseline: set[asyncio.Task[object]] = set()

    def _wake_delivery(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    # --- starting -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Raises :class:`bot.preflight.StartupError`, before anything is started, when the
        database, Redis or a platform cannot be reached or refuses a token: Socket Mode, for
        one, would otherwise retry a rejected app token forever."""
        await preflight.verify(self.settings)
        await upgrade(self.engine)
        async with self.sessions.begin() as session:
            config = self.config
            await solutions.sync_config(session, config.solutions, config.replies, self.clock())
        settings = self.settings
        senders: dict[str, Sender] = {}
        checks: dict[str, Check] = {"database": self._ping_database}
        if self.redis is not None:
            checks["redis"] = self.redis.ping
        if settings.telegram_enabled:
            pacer = TelegramPacer(
                self.limiter, self.limits, self.metrics.counter_of_429("telegram")
            )
            application = build_application(
                settings.telegram_bot_token.get_secret_value(),
                settings.telegram_api_url,
                rate_limiter=pacer,
                timeout=settings.platform_timeout,
            )
            groups = TelegramDesk(application, self.desk)
            self.telegram = TelegramAdapter(
                application, self.desk, self.metrics.update_seen, groups
            )
            desk_sender = TelegramDeskSender(
                application.bot, self.sessions, self.config, self.clock
            )
            senders["telegram"] = TelegramSender(application, desk_sender)
            checks["telegram"] = application.bot.get_me
        if settings.slack_enabled:
            client = PacedWebClient(
                settings.slack_bot_token.get_secret_value(),
                settings.slack_api_url,
                self.limiter,
                self.limits,
                self.metrics.counter_of_429("slack"),
                settings.platform_timeout,
            )
            self.slack = SlackAdapter(settings, self.desk, self.dedupe, sender_client=client)
            senders["slack"] = self.slack.sender
            if self.telegram is not None:  # Telegram users' files go into the cards' threads
                self.slack.sender.fetchers["telegram"] = self.telegram.download
            checks["slack"] = client.auth_test
        self.health = Health(checks)
        # Delivery retries run on wall-clock time even when the desk's clock is a test's.
        self.worker = DeliveryWorker(
            self.sessions,
            senders,
            utc_now,
            self.desk.feedback.after_delivery,
            lease=timedelta(seconds=settings.outbox_lease),
            digest_above=settings.outbox_digest_backlog,
            observe=lambda row, outcome: self.metrics.delivered(row, outcome, utc_now()),
            on_sent=self.desk.feedback.reached,
            alone=self.engine.dialect.name == "sqlite",
        )
        self._tasks.append(asyncio.create_task(self.worker.run(), name="delivery"))
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
        await self._start_http()
        await self._start_metrics()
        if self.telegram is not None:
            await self._start_telegram(self.telegram)
        if self.slack is not None and settings.slack_mode == "socket":
            await self.slack.connect_socket_mode(settings.slack_app_token.get_secret_value())
        self._baseline = asyncio.all_tasks()

    async def _start_telegram(self, adapter: TelegramAdapter) -> None:
        application = adapter.application
        await application.initialize()
        await application.start()
        await adapter.publish_commands()
        if self.settings.telegram_mode == "polling":
            await application.bot.delete_webhook()
            ttl = timedelta(seconds=self.settings.telegram_poll_lease)
            lease = Lease("telegram-poller", ttl, utc_now, self.sessions, self.redis)
            self.poller = TelegramPoller(application, lease, on_leader=self.metrics.poller.set)
            self._tasks.append(asyncio.create_task(self.poller.run(), name="telegram-poller"))
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
        """One server for webhooks, Slack events and ``/healthz``. Without a webhook to serve,
        failing to listen is logged, not fatal: the desk works without."""
        web_app = web.Application(client_max_size=1024 * 1024)
        web_app.router.add_get("/healthz", self._healthz)
        if self.settings.telegram_enabled and self.settings.telegram_mode == "webhook":
            web_app.router.add_post(TELEGRAM_WEBHOOK_PATH, self._telegram_webhook)
        if self.slack is not None and self.settings.slack_mode == "http":
            web_app.router.add_post(EVENTS_PATH, self._slack_events)
        self._runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        host, port = self.settings.http_host, self.settings.http_port
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError as error:
            if self._needs_http():
                raise
            log.error("cannot listen on %s:%s (%s): no /healthz or /metrics", host, port, error)
            return
        log.info("HTTP on %s:%s", host, port)

    async def _start_metrics(self) -> None:
        """``/metrics`` on a listener of its own (``METRICS_HOST:METRICS_PORT``, loopback by
        default), never on the one the platforms reach; with ``METRICS_TOKEN``, only for
        requests that carry it as a bearer token. Failing to listen is logged, not fatal."""
        host, port = self.settings.metrics_host, self.settings.metrics_port
        if not port:
            return
        metrics_app = web.Application()
        metrics_app.router.add_get("/metrics", self._metrics)
        self._metrics_runner = web.AppRunner(metrics_app, access_log=None, shutdown_timeout=1.0)
        await self._metrics_runner.setup()
        try:
            await web.TCPSite(self._metrics_runner, host, port).start()
        except OSError as error:
            log.error("cannot listen on %s:%s (%s): no /metrics", host, port, error)
            return
        log.info("metrics on %s:%s", host, port)

    # --- HTTP ---------------------------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.Response:
        assert self.health is not None
        report = await self.health.report()
        return web.json_response(report, status=200 if report["ok"] else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        token = self.settings.metrics_token.get_secret_value()
        given = request.headers.get("Authorization", "")
        if token and not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return web.Response(
                status=401, text="unauthorized", headers={"WWW-Authenticate": "Bearer"}
            )
        body = await self.metrics.render(self.sessions, self.clock())
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def _ping_database(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def _telegram_webhook(self, request: web.Request) -> web.Response:
        """Telegram's POSTs: refused unless they carry our secret token. The update is
        processed before we answer, so a crash before the answer makes Telegram send it again
        (to this or another process) instead of losing it."""
        assert self.telegram is not None
        secret = self.settings.telegram_webhook_secret.get_secret_value()
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != secret:
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        if not self._accepting:
            return web.json_response({"ok": False, "error": "shutting down"}, status=503)
        try:
            data = await request.json()
            update = Update.de_json(data, self.telegram.application.bot)
        except Exception:  # malformed JSON or not an update: say so, do not crash
            return web.json_response({"ok": False, "error": "malformed update"}, status=400)
        if update is None:
            return web.json_response({"ok": False, "error": "malformed update"}, status=400)
        await self.telegram.application.process_update(update)
        return web.json_response({"ok": True})

    async def _slack_events(self, request: web.Request) -> web.Response:
        """Slack's POSTs; while stopping, 503 makes Slack retry them (elsewhere, or later)."""
        assert self.slack is not None
        if not self._accepting:
            return web.json_response({"ok": False, "error": "shutting down"}, status=503)
        return await self.slack.handle_http(request)

    # --- background ---------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        """Now and then: expire idle conversations, close unanswered resolutions, and fire due
        SLA reminders and breaches (each once, whichever process gets there first); hourly,
        forget old de-duplication claims and delivered messages."""
        purged = 0.0
        while True:
            try:
                await self.desk.housekeeping.run()
                await self.desk.alarms.fire_due()
                if time.monotonic() - purged > PURGE_EVERY:
                    purged = time.monotonic()
                    await self._purge()
            except Exception:
                log.exception("housekeeping failed; trying again later")
            await asyncio.sleep(self._housekeeping_every)

    async def _purge(self) -> None:
        now = utc_now()
        await self.dedupe.forget_old(now)
        async with self.sessions.begin() as session:
            await outbox.forget_before(session, now - OUTBOX_KEEP)

    # --- stopping -----------------------------------------------------------------------------

    async def stop(self, grace: float | None = None) -> None:
        """Graceful stop: take no more updates, let the ones in work finish, deliver what can
        be delivered within ``grace`` seconds (``SHUTDOWN_GRACE``), keep the rest queued."""
        grace = self.settings.shutdown_grace if grace is None else grace
        deadline = time.monotonic() + grace
        self._accepting = False
        if self.poller is not None:
            await self.poller.stop()
        if self.slack is not None:
            await self.slack.close()
        if self._runner is not None:  # waits for requests in work; new ones are refused
            await self._runner.cleanup()
        if self._metrics_runner is not None:
            await self._metrics_runner.cleanup()
        await self._quiesce(min(grace, 5.0))
        if self.worker is not None:
            await self.worker.stop(max(0.0, deadline - time.monotonic()))
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.telegram is not None:
            application = self.telegram.application
            if application.running:
                await application.stop()
            await application.shutdown()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()

    async def _quiesce(self, seconds: float) -> None:
        """Wait for work the adapters started in the background and did not await (bolt runs
        its listeners after the ack), so their changes are committed before we stop."""
        ours = {asyncio.current_task(), *self._tasks, *self._baseline}
        started = [
            task
            for task in asyncio.all_tasks()
            if task not in ours and not task.get_name().startswith("outbox-")
        ]
        if started:
            await asyncio.wait(started, timeout=seconds)


def _limits(settings: Settings, telegram: float | None, slack: float | None) -> Limits:
    limits = Limits.of(settings)
    if telegram is not None:
        limits = replace(limits, telegram_private=telegram)
    if slack is not None:
        limits = replace(limits, slack_channel=slack, slack_tier3=slack)
    return limits
