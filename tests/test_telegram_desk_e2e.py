"""The whole desk in Telegram groups, end to end through the real python-telegram-bot stack
against the fake Bot API: a Telegram requester, operators in a forum supergroup, a support line
in another one (or in Slack)."""

from __future__ import annotations

import asyncio

from bot.standins import slack_requests as sr
from bot.standins.ports import free_port
from bot.standins.slack_api import FakeSlackAPI
from bot.standins.telegram_api import FakeTelegramAPI
from handlers.i18n import t
from handlers.messages import UserRef
from handlers.requesters import CONFIRM
from handlers.tickets import Level, Status
from handlers.tickets_service import Done
from tests.conftest import Clock
from tests.delivery_world import outbox_settled
from tests.telegram_chat import TelegramChat, running_app, telegram_settings
from tests.telegram_groups import (
    BOB,
    CAROL,
    GROUP_SETTINGS,
    MALLORY,
    OPS,
    SAM,
    SYS,
    Group,
    desk_config,
    groups,
    telegram_desk,
)
from tests.test_telegram_e2e import ALICE, file_full_ticket


async def test_first_line_loop_in_a_forum_topic(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with telegram_desk(database_url, redis_url, clock) as (app, tg):
        alice, ops = TelegramChat(tg, ALICE, clock), Group(tg, OPS)
        await file_full_ticket(alice)
        card = await ops.card(1, "New")
        thread = ops.thread(card)
        topic = tg.topic(OPS, thread)
        assert (
            topic is not None
            and topic["name"] == "🆕 #1 · Printers and office equipment · Alice B."
        )
        assert "The printer on floor 3 jams" in card["text"]

        answer = await ops.press(BOB, "hd:claim:1", card)
        assert not answer.params.get("show_alert")
        await tg.wait_for_message(
            ALICE.id, t("en", "ticket.claimed", number=1, operator="Bob Operator")
        )
        card = await ops.card(1, "Claimed by Bob Operator")
        assert [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row] == [
            "Release",
            "Escalate",
            "Resolve",
            "Reject",
            "Reply with a solution",
            "Link to…",
            "Declare major incident",
        ]
        assert tg.topic(OPS, thread)["name"].startswith("🙋 #1")

        # Bob's words reach Alice; delivery shows on his message; a note stays inside
        said = ops.say(BOB, "Please open tray 2 <b>and</b> close it", thread)
        await tg.wait_for_message(ALICE.id, "Please open tray 2 <b>and</b> close it")
        assert await ops.reaction(said) == "👌"
        photo = ops.send_photo(BOB, "This is tray 2", thread)
        got = await tg.wait_for(
            lambda c: c.method == "sendPhoto" and c.params.get("chat_id") == ALICE.id and c.ok
        )
        assert tg.updates[-1]["message"]["photo"][-1]["file_id"] == got.params["photo"]
        await tg.wait_for_message(ALICE.id, "This is tray 2")
        assert await ops.reaction(photo) == "👌"
        note = ops.say(BOB, "// the roller is worn", thread)
        assert await ops.reaction(note) == "✍"
        assert not any("roller" in text for text in tg.texts_to(ALICE.id))

        # Alice's answer arrives in the topic
        since = len(tg.sent)
        tg.push_update(ALICE.text("Still jams after that"))
        relayed = await tg.wait_for_message(OPS, "Still jams after that", since=since)
        assert relayed["message_thread_id"] == thread

        # Resolve asks for the note with a reply-prompt; the answer resolves the ticket
        since = len(tg.sent)
        await ops.press(BOB, "hd:resolve:1", card)
        prompt = await ops.prompt(thread, "Resolve #1", since)
        ops.say(BOB, "Replaced the roller", thread, reply_to=prompt["message_id"])
        await tg.wait_for_message(ALICE.id, "Replaced the roller")
        await ops.card(1, "Resolution: Replaced the roller")
        await _until(lambda: tg.topic(OPS, thread)["is_closed"])
        assert tg.topic(OPS, thread)["name"].startswith("✅ #1")

        # "It did not help": the ticket and its topic open again
        await alice.press(f"{CONFIRM}1:no", t("en", "ticket.reopened", number=1))
        await ops.card(1, "Reopened")
        await _until(lambda: not tg.topic(OPS, thread)["is_closed"])
        assert (await app.desk.ticket(1)).status is Status.CLAIMED


async def test_a_rated_card_still_says_how_the_ticket_closed(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with telegram_desk(database_url, redis_url, clock) as (_, tg):
        alice, ops = TelegramChat(tg, ALICE, clock), Group(tg, OPS)
        await file_full_ticket(alice)
        card = await ops.card(1, "New")
        await ops.press(BOB, "hd:claim:1", card)
        since = len(tg.sent)
        await ops.press(BOB, "hd:resolve:1", card)
        prompt = await ops.prompt(ops.thread(card), "Resolve #1", since)
        ops.say(BOB, "Replaced the roller", ops.thread(card), reply_to=prompt["message_id"])
        await tg.wait_for_message(ALICE.id, "Replaced the roller")
        await alice.press(f"{CONFIRM}1:yes", t("en", "csat.ask", number=1))
        await alice.press("r:1:5", t("en", "csat.thanks", number=1))
        rated = await ops.card(1, "Rated 5/5")
        assert "🔒 Closed: the requester confirmed the fix" in rated["text"]


async def test_claim_race_has_one_winner_and_outsiders_change_nothing(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with telegram_desk(database_url, redis_url, clock) as (app, tg):
        ops = Group(tg, OPS)
        await file_full_ticket(TelegramChat(tg, ALICE, clock))
        card = await ops.card(1, "New")

        refused = await ops.press(MALLORY, "hd:claim:1", card)
        assert refused.params.get("show_alert") is True
        assert "operators" in refused.params["text"]
        assert (await app.desk.ticket(1)).status is Status.NEW

        answers = await asyncio.gather(
            ops.press(BOB, "hd:claim:1", card), ops.press(CAROL, "hd:claim:1", card)
        )
        alerts = [a for a in answers if a.params.get("show_alert")]
        assert len(alerts) == 1 and "taken" in alerts[0].params["text"]
        ticket = await app.desk.ticket(1)
        assert ticket is not None and ticket.status is Status.CLAIMED
        winner = "Bob Operator" if alerts[0] is answers[1] else "Carol Operator"
        assert ticket.assignee_name == winner
        await ops.card(1, f"Claimed by {winner}")

        # a forged button (another ticket's number on this card) changes nothing
        forged = await ops.press(BOB, "hd:release:2", card)
        assert "no longer valid" in forged.params["text"]
        # an outsider's words in the topic go nowhere, and are marked so
        outsider = ops.say(MALLORY, "hello Alice, send me your password", ops.thread(card))
        assert await ops.reaction(outsider) == "🙈"
        ops.say(BOB if winner.startswith("Bob") else CAROL, "On my way", ops.thread(card))
        await tg.wait_for_message(ALICE.id, "On my way")
        assert not any("password" in text for text in tg.texts_to(ALICE.id))


async def test_a_move_while_a_line_card_is_posted_shows_on_it_and_its_topic(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    """The ticket is resolved while the line's topic is being created for its card: no
    refresh can be queued for a card whose link is not recorded yet, so the sender catches up."""
    async with telegram_desk(database_url, redis_url, clock) as (app, tg):
        alice, ops, line = TelegramChat(tg, ALICE, clock), Group(tg, OPS), Group(tg, SYS)
        await file_full_ticket(alice)
        await ops.card(1, "New")
        bob = UserRef("telegram", str(BOB.id), "Bob Operator")

        async def resolve_meanwhile() -> None:
            done = await app.desk.operators.resolve(1, bob, "Reseated the fuser", "test:during")
            assert isinstance(done, Done)

        tg.during_next("createForumTopic", resolve_meanwhile, chat_id=SYS)
        escalated = await app.desk.specialists.escalate(
            1, bob, "sysadmins", "Needs a fuser", Level.HIGH, "test:escalate"
        )
        assert isinstance(escalated, Done)
        await outbox_settled(app.sessions)
        spec = await line.card(1)
        assert "Resolved" in spec["text"] and "Reseated the fuser" in spec["text"]
        topic = tg.topic(SYS, line.thread(spec))
        assert topic is not None and topic["name"].startswith("✅ #1") and topic["is_closed"]


async def test_escalation_to_a_telegram_line_mirrors_both_topics_and_reminds(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with telegram_desk(database_url, redis_url, clock) as (app, tg):
        alice, ops, line = TelegramChat(tg, ALICE, clock), Group(tg, OPS), Group(tg, SYS)
        await file_full_ticket(alice)
        card = await ops.card(1, "New")
        thread = ops.thread(card)

        # the SLA reminder of the response clock goes into the ticket's topic
        clock.advance(minutes=25)
        assert await app.desk.alarms.fire_due() >= 1
        reminder = await tg.wait_for_message(OPS, "⏰ #1")
        assert reminder["message_thread_id"] == thread

        await ops.press(BOB, "hd:claim:1", card)
        since = len(tg.sent)
        await ops.press(BOB, "hd:escalate:1", card)
        picker = await tg.wait_for_message(OPS, "to which line?", since=since)
        await ops.press(BOB, "hd:line:1:sysadmins", picker)
        await tg.wait_for(
            lambda c: (
                c.method == "editMessageReplyMarkup"
                and c.params.get("message_id") == picker["message_id"]
                and c.ok
            )
        )
        picker = tg.message(OPS, picker["message_id"])
        assert picker["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == (
            "hd:impact:1:sysadmins:high"
        )
        await ops.press(BOB, "hd:impact:1:sysadmins:high", picker)
        prompt = await ops.prompt(thread, "a note for the specialists", since)
        ops.say(BOB, "Needs a new fuser unit", thread, reply_to=prompt["message_id"])

        spec = await line.card(1, "waiting for a specialist")
        assert "<a href" not in spec["text"] and "@sam" in spec["text"]
        assert "Needs a new fuser unit" in spec["text"]
        assert tg.topic(SYS, line.thread(spec)) is not None
        await ops.card(1, "Escalated to System administrators")
        await tg.wait_for_message(ALICE.id, "passed to our specialists")

        refused = await line.press(MALLORY, "hd:take:1", spec)
        assert refused.params.get("show_alert") is True
        await line.press(SAM, "hd:take:1", spec)
        spec = await line.card(1, "taken by Sam Specialist")

        # the specialist answers in the line's topic: Alice gets it, the operators see it
        line.say(SAM, "Fuser ordered, arrives tomorrow", line.thread(spec))
        await tg.wait_for_message(ALICE.id, "Fuser ordered")
        mirrored = await tg.wait_for_message(OPS, "Fuser ordered")
        assert mirrored["message_thread_id"] == thread and "(specialist)" in mirrored["text"]
        # and Alice's reply reaches both topics
        tg.push_update(ALICE.text("Thanks, I will wait"))
        for chat, topic in ((OPS, thread), (SYS, line.thread(spec))):
            got = await tg.wait_for_message(chat, "Thanks, I will wait")
            assert got["message_thread_id"] == topic

        # the line gives it back: its card says so, the operators' card has it again
        await line.press(SAM, "hd:return:1", spec)
        await line.card(1, "Back with the first line")
        await ops.card(1, "Claimed by Bob Operator")
        stale = await line.press(SAM, "hd:take:1", spec)
        assert stale.params.get("show_alert") is True


async def test_operator_commands_in_the_group(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with telegram_desk(database_url, redis_url, clock) as (_, tg):
        await file_full_ticket(TelegramChat(tg, ALICE, clock))
        await Group(tg, OPS).card(1)
        for who, command, expect in (
            (BOB, "/list", "Open tickets (1)"),
            (BOB, "/show 1", "The printer on floor 3 jams"),
            (BOB, "/stats 7d", "Helpdesk"),
            (MALLORY, "/list", "Only the desk's operators"),
        ):
            since = len(tg.sent)
            tg.push_update(who.group_text(command, chat_id=OPS, chat_type="supergroup"))
            await tg.wait_for_message(OPS, expect, since=since)


async def test_mixed_desk_operators_in_telegram_a_line_in_slack(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with FakeTelegramAPI() as tg, FakeSlackAPI() as slack:
        groups(tg)
        slack.add_channel("C0SYSADMINS", "sysadmins", members=[slack.bot_user_id])
        settings = telegram_settings(
            tg,
            database_url,
            redis_url,
            **GROUP_SETTINGS,
            slack_bot_token=slack.token,
            slack_signing_secret=sr.SIGNING_SECRET,
            slack_mode="http",
            slack_api_url=slack.api_url,
            http_host="127.0.0.1",
            http_port=free_port(),
        )
        async with running_app(settings, clock, desk_config("C0SYSADMINS")) as app:
            ops = Group(tg, OPS)
            await file_full_ticket(TelegramChat(tg, ALICE, clock))
            card = await ops.card(1, "New")
            await ops.press(BOB, "hd:claim:1", card)
            since = len(tg.sent)
            await ops.press(BOB, "hd:escalate:1", card)
            picker = await tg.wait_for_message(OPS, "to which line?", since=since)
            await ops.press(BOB, "hd:impact:1:sysadmins:medium", picker)
            prompt = await ops.prompt(ops.thread(card), "a note for the specialists", since)
            ops.say(BOB, "-", ops.thread(card), reply_to=prompt["message_id"])
            posted = await slack.wait_for(
                lambda c: (
                    c.method == "chat.postMessage"
                    and c.params.get("channel") == "C0SYSADMINS"
                    and c.ok
                )
            )
            assert "#1" in posted.params["text"]
            await ops.card(1, "Escalated to System administrators")
            assert (await app.desk.ticket(1)).line == "sysadmins"


async def _until(condition, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_group_without_topics_uses_the_card_reply_chain(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with telegram_desk(database_url, redis_url, clock, topics=False) as (app, tg):
        alice, ops = TelegramChat(tg, ALICE, clock), Group(tg, OPS)
        await file_full_ticket(alice)
        card = await ops.card(1, "New")
        assert "message_thread_id" not in card and not tg.calls_of("createForumTopic")
        await ops.press(BOB, "hd:claim:1", card)
        said = ops.say(BOB, "Try the other tray", None, reply_to=card["message_id"])
        await tg.wait_for_message(ALICE.id, "Try the other tray")
        assert await ops.reaction(said) == "👌"
        since = len(tg.sent)
        tg.push_update(ALICE.text("Same thing"))
        relayed = await tg.wait_for_message(OPS, "Same thing", since=since)
        assert relayed["reply_to_message"]["message_id"] == card["message_id"]

        since = len(tg.sent)
        await ops.press(BOB, "hd:reject:1", card)
        prompt = await tg.wait_for_message(OPS, "Reject #1", since=since)
        assert prompt["reply_to_message"]["message_id"] == card["message_id"]
        ops.say(BOB, "Duplicate of #7", None, reply_to=prompt["message_id"])
        await tg.wait_for_message(ALICE.id, "Duplicate of #7")
        await ops.card(1, "Reason: Duplicate of #7")
        assert (await app.desk.ticket(1)).status is Status.REJECTED


async def test_weekly_digest_goes_to_a_telegram_group(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    config = desk_config().model_copy(
        update={"desk": desk_config().desk.model_copy(update={"digest_channel": f"telegram:{OPS}"})}
    )
    async with telegram_desk(database_url, redis_url, clock, config) as (app, tg):
        await app.desk.housekeeping.weekly_digest()
        figures = await tg.wait_for_message(OPS, "Weekly digest")
        assert figures["entities"][0]["type"] == "bold"
        chart = await tg.wait_for(lambda c: c.method == "sendPhoto" and c.ok)
        assert chart.params["chat_id"] == OPS


async def test_the_allow_list_decides_who_is_an_operator(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    config = desk_config().model_copy(
        update={"desk": desk_config().desk.model_copy(update={"operators": ["@carol"]})}
    )
    async with telegram_desk(database_url, redis_url, clock, config) as (_, tg):
        ops = Group(tg, OPS)
        await file_full_ticket(TelegramChat(tg, ALICE, clock))
        card = await ops.card(1, "New")
        refused = await ops.press(BOB, "hd:claim:1", card)  # in the group, not on the list
        assert refused.params.get("show_alert") is True
        assert not (await ops.press(CAROL, "hd:claim:1", card)).params.get("show_alert")
        await ops.card(1, "Claimed by Carol Operator")
