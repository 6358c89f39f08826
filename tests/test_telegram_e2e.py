"""End to end through the real python-telegram-bot stack against the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import select
from telegram.warnings import PTBDeprecationWarning

from bot.standins.ports import free_port
from bot.standins.telegram_api import FakeTelegramAPI, TgUser
from handlers.i18n import t
from handlers.intake import Step, choice
from handlers.tickets import Status
from storage import tickets as store
from storage.models import AttachmentRow, OutboxRow
from tests.conftest import Clock
from tests.telegram_chat import TelegramChat, running_app, telegram_settings

ALICE = TgUser(1001, "Alice", "Brown", username="alice", language_code="en")
OKSANA = TgUser(1002, "Оксана", "Коваль", language_code="uk")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


async def file_full_ticket(chat: TelegramChat, lang: str = "en") -> dict:
    """A complete intake from /start to Submit; returns the bot's final message."""
    await chat.send(chat.user.command("start"), t(lang, "ask.category"))
    await chat.press(choice(Step.CATEGORY, "printers"), t(lang, "ask.description"))
    await chat.say("The printer on floor 3 jams on every page", t(lang, "ask.location"))
    await chat.say("HQ, room 301", t(lang, "ask.name"))
    name = f"{chat.user.first_name} {chat.user.last_name}"
    await chat.press(choice(Step.NAME, "remembered"), t(lang, "ask.phone"))
    await chat.send(chat.user.contact("+380671234567"), t(lang, "ask.asset"))
    await chat.say("10.0.12.7", t(lang, "ask.files", max=10))
    await chat.send(chat.user.photo(caption=None), t(lang, "intake.file_added", count=1))
    await chat.press(choice(Step.FILES, "done"), t(lang, "ask.urgency"))
    summary = await chat.press(choice(Step.URGENCY, "high"), t(lang, "summary.title"))
    assert name in summary["text"]
    return await chat.press(choice(Step.SUMMARY, "submit"), t(lang, "ticket.created", number=1))


async def test_full_intake_lands_in_the_database_with_every_field(
    tg: FakeTelegramAPI, database_url: str, redis_url: str, clock: Clock
) -> None:
    settings = telegram_settings(tg, database_url, redis_url)
    async with running_app(settings, clock) as app:
        chat = TelegramChat(tg, ALICE, clock)
        await file_full_ticket(chat)
        async with app.sessions() as session:
            ticket = await store.get(session, 1)
            files = (await session.execute(select(AttachmentRow))).scalars().all()
    assert ticket.status is Status.NEW
    assert ticket.requester.platform == "telegram" and ticket.requester.user_id == "1001"
    assert ticket.requester.name == "Alice Brown" and ticket.requester.contact == "@alice"
    assert (ticket.category, ticket.location, ticket.phone, ticket.asset) == (
        "printers",
        "HQ, room 301",
        "+380671234567",
        "10.0.12.7",
    )
    assert ticket.description == "The printer on floor 3 jams on every page"
    assert ticket.urgency == "high" and ticket.priority == "P2"
    assert [f.kind for f in files] == ["photo"] and files[0].file_id
    assert tg.my_commands(language_code="uk"), "setMyCommands was published per language"


async def test_ukrainian_user_gets_ukrainian_texts(
    tg: FakeTelegramAPI, database_url: str, redis_url: str, clock: Clock
) -> None:
    async with running_app(telegram_settings(tg, database_url, redis_url), clock):
        await file_full_ticket(TelegramChat(tg, OKSANA, clock), "uk")
    assert any("Звернення №1 зареєстровано" in text for text in tg.texts_to(OKSANA.id))


async def test_every_validation_reasks(
    tg: FakeTelegramAPI, database_url: str, redis_url: str, clock: Clock
) -> None:
    async with running_app(telegram_settings(tg, database_url, redis_url), clock):
        chat = TelegramChat(tg, ALICE, clock)
        await chat.send(ALICE.command("new"), t("en", "ask.category"))
        await chat.press(choice(Step.CATEGORY, "network"), t("en", "ask.description"))
        await chat.say("wifi", t("en", "invalid.description_short", min=10))
        await chat.say("x" * 3001, t("en", "invalid.description_long", max=3000))
        await chat.say("Wi-Fi drops every ten minutes", t("en", "ask.location"))
        clock.advance(seconds=10)
        await chat.say("x", t("en", "invalid.location"))
        await chat.say("Warehouse", t("en", "ask.name"))
        await chat.say("A", t("en", "invalid.name"))
        await chat.say("Alice", t("en", "ask.phone"))
        await chat.say("call me maybe", t("en", "invalid.phone"))
        await chat.say("+380 (67) 123-45-67", t("en", "ask.asset"))
        await chat.say("999.1.1.1", t("en", "invalid.asset"))
        await chat.press(choice(Step.ASSET, "skip"), t("en", "ask.files", max=10))
        await chat.say("here you go", t("en", "invalid.files"))
        await chat.press(choice(Step.FILES, "done"), t("en", "ask.urgency"))
        await chat.say("very", t("en", "intake.use_buttons"))
        summary = await chat.say("3", t("en", "summary.title"))
        assert "+380671234567" in summary["text"]


async def test_edit_one_field_from_the_summary_returns_to_the_summary(
    tg: FakeTelegramAPI, database_url: str, redis_url: str, clock: Clock
) -> None:
    async with running_app(telegram_settings(tg, database_url, redis_url), clock) as app:
        chat = TelegramChat(tg, ALICE, clock)
        await chat.say("The scanner in accounting shows error E-42", t("en", "ask.category"))
        await chat.press(choice(Step.CATEGORY, "hardware"), t("en", "ask.location"))
        await chat.say("Accounting", t("en", "ask.name"))
        await chat.say("Alice", t("en", "ask.phone"))
        await chat.say("+380671234567", t("en", "ask.asset"))
        await chat.press(choice(Step.ASSET, "skip"), t("en", "ask.files", max=10))
        await chat.press(choice(Step.FILES, "done"), t("en", "ask.urgency"))
        await chat.press(choice(Step.URGENCY, "low"), t("en", "summary.title"))
        await chat.press(choice(Step.SUMMARY, "edit"), t("en", "ask.edit"))
        await chat.press(choice(Step.EDIT, "location"), t("en", "ask.location"))
        summary = await chat.say("Accounting, desk 7", t("en", "summary.title"))
        assert "Accounting, desk 7" in summary["text"]
        await chat.press(choice(Step.SUMMARY, "submit"), "#1")
        ticket = await app.desk.ticket(1)
    assert ticket is not None and ticket.location == "Accounting, desk 7"
    assert ticket.description == "The scanner in accounting shows error E-42"


async def test_cancel_registers_nothing(
    tg: FakeTelegramAPI, database_url: str, redis_url: str, clock: Clock
) -> None:
    async with running_app(telegram_settings(tg, database_url, redis_url), clock) as app:
        chat = TelegramChat(tg, ALICE, clock)
        await chat.send(ALICE.command("new"), t("en", "ask.category"))
        await chat.send(ALICE.command("cancel"), t("en", "intake.cancelled"))
        await chat.send(ALICE.command("cancel"), t("en", "cancel.nothing"))
        assert await app.desk.open_tickets() == []


async def test_restart_mid_conversation_continues_at_the_same_step(
    tg: FakeTelegramAPI, database_url: str, redis_url: str, clock: Clock
) -> None:
    settings = telegram_settings(tg, database_url, redis_url)
    chat = TelegramChat(tg, ALICE, clock)
    async with running_app(settings, clock):
        await chat.send(ALICE.command("start"), t("en", "ask.category"))
        await chat.press(choice(Step.CATEGORY, "pos"), t("en", "ask.description"))
        await chat.say(
            "The POS terminal at till 2 does not print receipts", t("en", "ask.location")
        )
    async with running_app(settings, clock) as app:
        clock.advance(seconds=30)
        await chat.say("Shop 12, till 2", t("en", "ask.name"))
        await chat.say("Alice", t("en", "ask.phone"))
        await chat.say("+380671234567", t("en", "ask.asset"))
        await chat.press(choice(Step.ASSET, "skip"), t("en", "ask.files", max=10))
        await chat.press(choice(Step.FILES, "done"), t("en", "ask.urgency"))
        await chat.press(choice(Step.URGENCY, "high"), t("en", "summary.title"))
        await chat.press(choice(Step.SUMMARY, "submit"), "#1")
        ticket = await app.desk.ticket(1)
    assert ticket is not None and ticket.category == "pos" and ticket.location == "Shop 12, till 2"


async def test_returning_user_is_offered_the_remembered_profile(
    tg: FakeTelegramAPI, database_url: str, redis_url: str, clock: Clock
) -> None:
    async with running_app(telegram_settings(tg, database_url, redis_url), clock) as app:
        chat = TelegramChat(tg, ALICE, clock)
        await file_full_ticket(chat)
        await app.desk.operators.reject(1, _operator(), "duplicate", "test")
        await chat.send(ALICE.command("new"), t("en", "ask.category"))
        await chat.press(choice(Step.CATEGORY, "software"), t("en", "ask.description"))
        offer = await chat.say("Excel crashes when I open the budget", "HQ, room 301")
        assert "+380671234567" in offer["text"]
        await chat.press(choice(Step.PROFILE, "same"), t("en", "ask.asset"))


async def test_429_from_the_bot_api_is_retried_and_nothing_is_lost(
    tg: FakeTelegramAPI,
    database_url: str,
    redis_url: str,
    clock: Clock,
    recwarn: pytest.WarningsRecorder,
) -> None:
    async with running_app(telegram_settings(tg, database_url, redis_url), clock) as app:
        chat = TelegramChat(tg, ALICE, clock)
        tg.fail_next("sendMessage", status=429, retry_after=1, chat_id=ALICE.id)
        await chat.send(ALICE.command("help"), "/status", wait=8)
        failed = [c for c in tg.calls_of("sendMessage") if c.status == 429]
        assert len(failed) == 1
        rows = await _settled_outbox(app)
    assert [(r.state, r.attempts) for r in rows] == [("sent", 2)]
    # PTB's retry_after is read the way v23 gives it, so PTB has nothing to warn about
    assert not [w for w in recwarn if issubclass(w.category, PTBDeprecationWarning)]


async def test_user_who_blocked_the_bot_is_not_retried_and_recorded(
    tg: FakeTelegramAPI, database_url: str, redis_url: str, clock: Clock
) -> None:
    async with running_app(telegram_settings(tg, database_url, redis_url), clock) as app:
        chat = TelegramChat(tg, ALICE, clock)
        await file_full_ticket(chat)
        tg.block_chat(ALICE.id)
        result = await app.desk.operators.claim(1, _operator(), "click")
        assert result.ok
        await tg.wait_for(lambda c: c.method.lower() == "sendmessage" and c.status == 403)
        ticket = None
        for _ in range(50):
            ticket = await app.desk.ticket(1)
            if ticket and ticket.delivery_problem:
                break
            await _tick()
    assert ticket is not None and ticket.delivery_problem == "user blocked the bot"
    assert len([c for c in tg.calls_of("sendMessage") if c.status == 403]) == 1


async def test_groups_stickers_and_edits_are_handled_deliberately(
    tg: FakeTelegramAPI, database_url: str, redis_url: str, clock: Clock
) -> None:
    async with running_app(telegram_settings(tg, database_url, redis_url), clock) as app:
        chat = TelegramChat(tg, ALICE, clock)
        await chat.send(ALICE.sticker(), t("en", "unsupported"))
        await chat.send(ALICE.poll(), t("en", "unsupported"))
        since = len(tg.sent)
        tg.push_update(ALICE.edited(1, "edited text"))
        tg.push_update(ALICE.group_text("/new@helpdesk_test_bot"))
        await tg.wait_for_message(-987654321, t("en", "group.hint"))
        await chat.send(ALICE.command("frobnicate"), t("en", "unknown_command"))
        assert all(
            m["chat"]["id"] != ALICE.id or "edited" not in m.get("text", "")
            for m in tg.sent[since:]
        )
        assert await app.desk.open_tickets() == []


async def test_duplicate_update_is_processed_once(
    tg: FakeTelegramAPI, database_url: str, redis_url: str, clock: Clock
) -> None:
    async with running_app(telegram_settings(tg, database_url, redis_url), clock):
        update = ALICE.command("help")
        update["update_id"] = 500
        tg.push_update(dict(update))
        await tg.wait_for_message(ALICE.id, "/status")
        tg.push_update(dict(update))
        await TelegramChat(tg, ALICE, clock).send(ALICE.command("status"), t("en", "status.none"))
    assert sum("/status –" in text for text in tg.texts_to(ALICE.id)) == 1


async def test_webhook_mode_refuses_a_wrong_secret_and_takes_the_right_one(
    tg: FakeTelegramAPI, database_url: str, redis_url: str, clock: Clock
) -> None:
    port = free_port()
    settings = telegram_settings(
        tg,
        database_url,
        redis_url,
        telegram_mode="webhook",
        telegram_webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
        telegram_webhook_secret="s3cret-token",
        http_host="127.0.0.1",
        http_port=port,
    )
    async with running_app(settings, clock):
        assert tg.webhook_url == f"http://127.0.0.1:{port}/telegram/webhook"
        url = tg.webhook_url
        update = ALICE.command("help")
        update["update_id"] = 7
        assert await tg.post_webhook(url, update, secret="wrong") == 403
        async with aiohttp.ClientSession() as http:
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            async with http.post(url, data=b"{not json", headers=headers) as response:
                assert response.status == 400
        assert tg.texts_to(ALICE.id) == []
        assert await tg.post_webhook(url, update, secret="s3cret-token") == 200
        await tg.wait_for_message(ALICE.id, "/status")


def _operator():
    from handlers.messages import UserRef

    return UserRef("slack", "U0OPER", "Ivan Operator")


async def _settled_outbox(app) -> list[OutboxRow]:
    """The outbox once nothing in it is pending any more (the worker records after sending)."""
    for _ in range(100):
        async with app.sessions() as session:
            rows = (await session.execute(select(OutboxRow))).scalars().all()
        if all(r.state != "pending" for r in rows):
            return list(rows)
        await _tick()
    raise AssertionError(f"outbox still pending: {[(r.id, r.state) for r in rows]}")


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.05)


async def test_idle_conversation_expires_with_a_message(
    tg: FakeTelegramAPI, database_url: str, redis_url: str, clock: Clock
) -> None:
    async with running_app(telegram_settings(tg, database_url, redis_url), clock) as app:
        chat = TelegramChat(tg, ALICE, clock)
        await chat.send(ALICE.command("new"), t("en", "ask.category"))
        clock.advance(minutes=31)
        since = len(tg.sent)
        await app.desk.housekeeping.run()
        await tg.wait_for_message(ALICE.id, t("en", "intake.expired"), since=since)
        await chat.send(ALICE.command("cancel"), t("en", "cancel.nothing"))


async def test_user_with_an_open_ticket_adds_to_it_instead_of_a_new_one(
    tg: FakeTelegramAPI, database_url: str, redis_url: str, clock: Clock
) -> None:
    async with running_app(telegram_settings(tg, database_url, redis_url), clock) as app:
        chat = TelegramChat(tg, ALICE, clock)
        await file_full_ticket(chat)
        await chat.say("It now also smells of burning", t("en", "ticket.added", number=1))
        await chat.send(ALICE.command("status"), "#1 · Printers and office equipment")
        async with app.sessions() as session:
            said = await store.messages(session, 1)
        assert [(m.direction, m.text) for m in said] == [
            ("from_user", "It now also smells of burning")
        ]
        assert len(await app.desk.open_tickets()) == 1
