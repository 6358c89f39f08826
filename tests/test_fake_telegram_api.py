"""The fake Telegram Bot API, exercised through the real python-telegram-bot stack."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import web
from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReactionTypeEmoji,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.standins.telegram_api import BOT_ID, FakeTelegramAPI, TgUser, channel_post
from bot.telegram_request import AiohttpRequest

ALICE = TgUser(1001, "Alice", username="alice")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


@pytest.fixture(params=["httpx", "aiohttp"])
async def bot(tg: FakeTelegramAPI, request: pytest.FixtureRequest) -> AsyncIterator[Bot]:
    """A PTB Bot on PTB's default transport and on ours (bot/telegram_request.py)."""
    transport = AiohttpRequest() if request.param == "aiohttp" else None
    urls = {"base_url": tg.base_url, "base_file_url": tg.base_file_url}
    async with Bot(tg.token, request=transport, **urls) as b:
        yield b


def _build_app(tg: FakeTelegramAPI) -> Application:
    return (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .build()
    )


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Done", callback_data="done")]])
    await update.effective_message.reply_text(
        f"echo: {update.effective_message.text}", reply_markup=keyboard, do_quote=True
    )


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_html(f"<b>Welcome</b> {context.args or ''}")


async def _pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("ok")
    await query.edit_message_text(f"pressed {query.data} on {query.message.text!r}")


def _register(app: Application) -> None:
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    app.add_handler(CallbackQueryHandler(_pressed))


async def test_polling_app_receives_updates_and_replies(tg: FakeTelegramAPI) -> None:
    app = _build_app(tg)
    _register(app)
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            tg.push_update(ALICE.command("start", "vpn"))
            welcome = await tg.wait_for_message(ALICE.id, contains="Welcome")
            assert welcome["text"] == "Welcome ['vpn']"  # HTML parsed: tags become entities
            assert welcome["entities"] == [{"type": "bold", "offset": 0, "length": 7}]

            tg.push_update(ALICE.text("printer on fire"))
            echo = await tg.wait_for_message(ALICE.id, contains="echo: printer on fire")
            assert echo["from"]["id"] == BOT_ID
            assert echo["reply_to_message"]["text"] == "printer on fire"
            assert echo["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "done"

            tg.push_update(ALICE.press("done", echo["message_id"]))
            edited = await tg.wait_for_message(ALICE.id, contains="pressed done")
            assert edited["message_id"] == echo["message_id"]
            assert edited["text"] == "pressed done on 'echo: printer on fire'"
            assert "reply_markup" not in edited  # editMessageText without markup drops it
            answer = await tg.wait_for(lambda c: c.method == "answerCallbackQuery" and c.ok)
            assert answer.params["text"] == "ok"
            # message ids are shared per chat between the user and the bot
            ids = [m["message_id"] for m in tg.messages_to(ALICE.id)]
            assert ids == [2, 4, 4]
        finally:
            await app.updater.stop()
            await app.stop()
    assert tg.pending_updates == []  # the final getUpdates confirmed everything


async def test_get_updates_long_poll_offset_and_duplicates(tg: FakeTelegramAPI, bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=2))
    await asyncio.sleep(0.05)
    first = tg.push_update(ALICE.text("hello"))
    updates = await poll
    assert loop.time() - started < 1  # woken by the push, not by the timeout
    assert [u.update_id for u in updates] == [first]
    assert updates[0].message.text == "hello"

    # not confirmed yet -> delivered again; an explicit duplicate id is kept
    tg.push_update({**ALICE.text("again"), "update_id": first})
    assert [u.update_id for u in await bot.get_updates()] == [first, first]
    assert await bot.get_updates(offset=first + 1) == ()
    assert tg.pending_updates == []

    # group, channel, sticker and poll updates parse in PTB
    for update in (
        ALICE.group_text("/start@helpdesk_test_bot"),
        channel_post("maintenance tonight"),
        ALICE.sticker(),
        ALICE.poll(),
        ALICE.contact("+491700000000"),
        ALICE.edited(1, "hello (edited)"),
        ALICE.document("logs.txt", content=b"boom"),
    ):
        tg.push_update(update)
    got = await bot.get_updates(offset=first + 1)
    assert got[0].effective_chat.type == "group"
    assert got[0].message.entities[0].type == "bot_command"
    assert got[1].channel_post.text == "maintenance tonight"
    assert got[2].message.sticker.emoji == "👍"
    assert got[3].message.poll.options[1].text == "No"
    assert got[4].message.contact.user_id == ALICE.id
    assert got[5].edited_message.text == "hello (edited)"
    assert await (await got[6].message.document.get_file()).download_as_bytearray() == b"boom"


async def test_retry_after_is_reported_to_ptb(tg: FakeTelegramAPI, bot: Bot) -> None:
    tg.fail_next("sendMessage", status=429, retry_after=1)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(ALICE.id, "hi")
    assert info.value.retry_after == timedelta(seconds=1)
    assert "Retry in 0:00:01" in info.value.message  # PTB rewords the description
    await bot.send_message(ALICE.id, "hi")  # only the next call failed
    assert [c.status for c in tg.calls_of("sendMessage")] == [429, 200]


async def test_blocked_chat_is_forbidden(tg: FakeTelegramAPI, bot: Bot) -> None:
    tg.block_chat(ALICE.id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ALICE.id, "are you there?")
    await bot.send_message(-1001, "a group the fake has never heard of is fine")
    assert tg.messages_to(ALICE.id) == []


async def test_photo_get_file_and_download(tg: FakeTelegramAPI, bot: Bot) -> None:
    update = ALICE.photo(caption="screen", content=b"\x89PNG-not-really")
    tg.push_update(update)
    file_id = update["message"]["photo"][-1]["file_id"]
    tg_file = await bot.get_file(file_id)
    assert tg_file.file_path.startswith(f"{tg.base_file_url}{tg.token}/photos/")
    assert await tg_file.download_as_bytearray() == b"\x89PNG-not-really"

    # the bot can send it back by file_id, or upload bytes
    again = await bot.send_photo(ALICE.id, file_id, caption="your screenshot")
    assert again.photo[-1].file_id == file_id
    doc = await bot.send_document(ALICE.id, b"ticket log", filename="ticket-7.txt")
    assert doc.document.file_name == "ticket-7.txt"
    assert await (await doc.document.get_file()).download_as_bytearray() == b"ticket log"
    assert [m.get("caption") for m in tg.messages_to(ALICE.id)] == ["your screenshot", None]


async def test_enforce_limits_private_chat_allows_a_short_burst() -> None:
    async with FakeTelegramAPI(enforce_limits=True) as tg:
        async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as b:
            for text in ("one", "two", "three"):
                await b.send_message(ALICE.id, text)
            await b.send_chat_action(ALICE.id, "typing")  # not a sending method
            with pytest.raises(RetryAfter):
                await b.send_message(ALICE.id, "four")
            await b.send_message(ALICE.id + 1, "another chat is fine")
        assert tg.rate_limited == 1
        assert tg.texts_to(ALICE.id) == ["one", "two", "three"]


async def test_enforce_limits_private_chat_without_bursts() -> None:
    async with FakeTelegramAPI(enforce_limits=True, private_burst=1) as tg:
        async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as b:
            await b.send_message(ALICE.id, "one")
            with pytest.raises(RetryAfter):
                await b.send_message(ALICE.id, "two")
        assert tg.rate_limited == 1
        assert tg.texts_to(ALICE.id) == ["one"]


async def test_post_webhook_delivers_secret_header(tg: FakeTelegramAPI) -> None:
    received: list[tuple[str | None, dict]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        status = await tg.post_webhook(f"http://127.0.0.1:{port}/hook", ALICE.text("hi"), "s3cret")
        assert status == 200
        secret, body = received[0]
        assert secret == "s3cret"
        assert body["message"]["text"] == "hi"
        assert isinstance(body["update_id"], int)
    finally:
        await runner.cleanup()


async def test_ptb_webhook_mode_gets_pushed_updates(tg: FakeTelegramAPI) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = _build_app(tg)
    _register(app)
    async with app:
        await app.start()
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="tg",
            webhook_url=f"http://127.0.0.1:{port}/tg",
            secret_token="s3cret",
        )
        try:
            assert tg.webhook_url == f"http://127.0.0.1:{port}/tg"
            assert tg.webhook_secret == "s3cret"
            with pytest.raises(Exception, match="webhook is active"):
                await app.bot.get_updates()
            tg.push_update(ALICE.text("via webhook"))
            await tg.wait_for_message(ALICE.id, contains="echo: via webhook")
            # a wrong secret is rejected by PTB's webhook server
            bad = await tg.post_webhook(f"http://127.0.0.1:{port}/tg", ALICE.text("x"), "nope")
            assert bad == 403
        finally:
            await app.updater.stop()
            await app.stop()


async def test_api_errors_match_telegram(tg: FakeTelegramAPI, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)unsupported start tag"):
        await bot.send_message(ALICE.id, "I <3 IT", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)reserved"):
        await bot.send_message(ALICE.id, "Ticket #12 created.", parse_mode=ParseMode.MARKDOWN_V2)
    msg = await bot.send_message(ALICE.id, "Ticket \\#12", parse_mode=ParseMode.MARKDOWN_V2)
    assert msg.text == "Ticket #12"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Ticket #12", chat_id=ALICE.id, message_id=msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="x" * 65)]])
        await bot.send_message(ALICE.id, "too much data", reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("unknown")
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(ALICE.id, 999)

    tg.drop_next("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(ALICE.id, "lost")
    tg.fail_next("sendMessage", status=502)
    with pytest.raises(NetworkError):
        await bot.send_message(ALICE.id, "bad gateway")

    with pytest.raises(InvalidToken):
        async with Bot("123456:WRONG", base_url=tg.base_url):
            pass
    assert tg.calls[-1].status == 401


async def test_wait_for_timeout_dumps_calls(tg: FakeTelegramAPI, bot: Bot) -> None:
    await bot.send_message(ALICE.id, "something else")
    with pytest.raises(AssertionError, match="something else"):
        await tg.wait_for_message(ALICE.id, contains="never", timeout=0.05)


async def test_during_next_changes_the_world_before_the_request_is_answered(
    tg: FakeTelegramAPI, bot: Bot
) -> None:
    async def meanwhile() -> None:
        await bot.send_message(ALICE.id, "meanwhile")

    tg.during_next("sendMessage", meanwhile, chat_id=ALICE.id)
    await bot.send_message(ALICE.id, "first")
    assert tg.texts_to(ALICE.id) == ["meanwhile", "first"]


async def test_our_transport_maps_timeouts_and_refused_connections(tg: FakeTelegramAPI) -> None:
    """bot/telegram_request.py raises PTB's own errors, which the senders map to retries."""
    tg.delay_next("sendMessage", 1.0)
    urls = {"base_url": tg.base_url, "base_file_url": tg.base_file_url}
    async with Bot(tg.token, request=AiohttpRequest(timeout=0.2), **urls) as b:
        with pytest.raises(TimedOut):
            await b.send_message(ALICE.id, "slow")
        await b.send_message(ALICE.id, "fast")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/bot"
    with pytest.raises(NetworkError, match=r"aiohttp\.ClientConnectorError"):
        async with Bot(tg.token, base_url=closed, request=AiohttpRequest()):
            pass


# --- groups: forum topics, members, reactions, reply prompts, the group limit ------------------

FORUM, PLAIN = -1001000000001, -1001000000002


async def test_forum_topics_follow_the_bot_api(tg: FakeTelegramAPI, bot: Bot) -> None:
    tg.add_group(FORUM, "Desk", forum=True)
    tg.add_group(PLAIN, "No topics")
    assert (await bot.get_chat(FORUM)).is_forum is True
    with pytest.raises(BadRequest, match=r"(?i)not a forum"):
        await bot.create_forum_topic(PLAIN, "#1")
    with pytest.raises(BadRequest, match=r"(?i)topic_icon_color_invalid"):
        await bot.create_forum_topic(FORUM, "#1", icon_color=0x123456)
    topic = await bot.create_forum_topic(FORUM, "#1 · Printers")
    thread = topic.message_thread_id
    first = tg.message(FORUM, thread)
    assert first is not None and first["forum_topic_created"]["name"] == "#1 · Printers"

    card = await bot.send_message(FORUM, "card", message_thread_id=thread)
    assert card.message_thread_id == thread and card.is_topic_message
    assert card.reply_to_message is not None and card.reply_to_message.message_id == thread
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await bot.send_message(FORUM, "lost", message_thread_id=9999)

    assert await bot.edit_forum_topic(FORUM, thread, name="✅ #1 · Printers")
    with pytest.raises(BadRequest, match=r"(?i)topic_not_modified"):
        await bot.edit_forum_topic(FORUM, thread, name="✅ #1 · Printers")
    assert await bot.close_forum_topic(FORUM, thread)
    with pytest.raises(BadRequest, match=r"(?i)topic_not_modified"):
        await bot.close_forum_topic(FORUM, thread)
    assert tg.topic(FORUM, thread) == {
        "name": "✅ #1 · Printers",
        "icon_color": 0x6FB9F0,
        "is_closed": True,
        "created_by_bot": True,
    }
    # an admin that manages topics still writes in a closed one; edits and topic moves are
    # not messages sent, so only the card counts as sent into the topic
    await bot.send_message(FORUM, "closing note", message_thread_id=thread)
    assert await bot.reopen_forum_topic(FORUM, thread)
    assert [m["text"] for m in tg.messages_in(FORUM, thread)] == ["card", "closing note"]


async def test_topics_need_the_right_to_manage_them(tg: FakeTelegramAPI, bot: Bot) -> None:
    tg.add_group(FORUM, "Desk", forum=True, bot_rights=["can_delete_messages"])
    with pytest.raises(BadRequest, match=r"(?i)not enough rights"):
        await bot.create_forum_topic(FORUM, "#1")
    tg.add_group(FORUM, "Desk", forum=True)
    thread = (await bot.create_forum_topic(FORUM, "#1")).message_thread_id
    await bot.close_forum_topic(FORUM, thread)
    tg.set_member(FORUM, {"id": BOT_ID, "is_bot": True, "first_name": "Helpdesk"}, "member")
    with pytest.raises(BadRequest, match=r"(?i)topic_closed"):
        await bot.send_message(FORUM, "late", message_thread_id=thread)
    assert await bot.reopen_forum_topic(FORUM, thread)  # the bot made it: no right needed


async def test_chat_members_and_their_statuses(tg: FakeTelegramAPI, bot: Bot) -> None:
    tg.add_group(FORUM, "Desk", forum=True, bot_rights=["can_manage_topics"])
    tg.set_member(FORUM, ALICE)
    bob = TgUser(2001, "Bob")
    tg.set_member(FORUM, bob, "kicked")
    me = await bot.get_chat_member(FORUM, BOT_ID)
    assert me.status == "administrator" and me.can_manage_topics and not me.can_pin_messages
    assert (await bot.get_chat_member(FORUM, ALICE.id)).status == "member"
    assert (await bot.get_chat_member(FORUM, bob.id)).status == "kicked"
    assert (await bot.get_chat_member(FORUM, 4242)).status == "left"
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat(-1009)


async def test_reactions_only_from_the_documented_emoji(tg: FakeTelegramAPI, bot: Bot) -> None:
    tg.add_group(PLAIN, "No topics")
    pushed = ALICE.group_text("done?", chat_id=PLAIN, chat_type="supergroup")
    tg.push_update(pushed)
    message_id = tg.updates[-1]["message"]["message_id"]
    assert await bot.set_message_reaction(PLAIN, message_id, "👌")
    assert tg.reactions[(PLAIN, message_id)] == [{"type": "emoji", "emoji": "👌"}]
    with pytest.raises(BadRequest, match=r"(?i)reaction_invalid"):
        await bot.set_message_reaction(PLAIN, message_id, ReactionTypeEmoji("✅"))
    with pytest.raises(BadRequest, match=r"(?i)reaction_invalid"):  # PTB: not listed = custom
        await bot.set_message_reaction(PLAIN, message_id, "✅")
    with pytest.raises(BadRequest, match=r"(?i)reactions_too_many"):
        await bot.set_message_reaction(PLAIN, message_id, ["👌", "👍"])
    with pytest.raises(BadRequest, match=r"(?i)message_id_invalid"):
        await bot.set_message_reaction(PLAIN, 999, "👌")


async def test_force_reply_prompt_and_the_answer_to_it(tg: FakeTelegramAPI, bot: Bot) -> None:
    tg.add_group(FORUM, "Desk", forum=True)
    thread = (await bot.create_forum_topic(FORUM, "#1")).message_thread_id
    prompt = await bot.send_message(
        FORUM, "Why?", message_thread_id=thread, reply_markup=ForceReply(selective=True)
    )
    assert tg.sent[-1]["reply_markup"]["force_reply"] is True
    assert prompt.reply_markup is None  # only inline keyboards come back in the message
    tg.push_update(
        ALICE.group_text(
            "Because", chat_id=FORUM, thread_id=thread, reply_to_message_id=prompt.message_id
        )
    )
    answer = tg.updates[-1]["message"]
    assert answer["chat"]["is_forum"] is True and answer["message_thread_id"] == thread
    assert answer["reply_to_message"]["text"] == "Why?"
    tg.push_update(ALICE.group_text("in the topic", chat_id=FORUM, thread_id=thread))
    assert tg.updates[-1]["message"]["reply_to_message"]["forum_topic_created"]["name"] == "#1"


async def test_enforce_limits_twenty_a_minute_per_group() -> None:
    async with FakeTelegramAPI(enforce_limits=True, group_per_minute=3) as tg:
        tg.add_group(FORUM, "Desk", forum=True)
        async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as b:
            thread = (await b.create_forum_topic(FORUM, "#1")).message_thread_id
            for n in range(3):
                await b.send_message(FORUM, f"m{n}", message_thread_id=thread)
            await b.edit_forum_topic(FORUM, thread, name="#1 · edited")  # not a send
            with pytest.raises(RetryAfter):
                await b.send_message(FORUM, "one too many")
            await b.send_message(PLAIN, "another group is fine")
        assert tg.rate_limited == 1
