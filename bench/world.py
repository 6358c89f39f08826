"""The outside world of a benchmark, in its own process: a fake Bot API or a fake Slack Web API
(bot/standins), and for the claim storm the operators' clicks.

Run by :class:`bench.common.World`, never by hand. It prints one JSON line when it is ready
(``{"url": ...}``) and then answers one JSON line per command read from stdin. Keeping the fakes
here means their CPU is not counted in the measured process, and their work does not compete for
its event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections import Counter
from typing import Any

import aiohttp

from bot.standins import slack_requests as sr
from bot.standins.slack_api import FakeSlackAPI
from bot.standins.telegram_api import BOT_USER, Call, FakeTelegramAPI

Json = dict[str, Any]
SEND_METHODS = frozenset({"sendMessage", "chat.postMessage", "chat.update"})


def _edited(call: Call) -> Json:
    """``editMessageReplyMarkup`` for a message the fake never saw (the updates of the intake
    benchmark bypass the fake): succeed as Telegram would."""
    return {
        "message_id": call.params.get("message_id"),
        "date": int(time.time()),
        "chat": {"id": call.params.get("chat_id"), "type": "private", "first_name": "User"},
        "from": dict(BOT_USER),
        "text": "…",
    }


async def _telegram(spec: Json) -> tuple[Any, Json]:
    limits = {"global_per_second": spec["global_per_second"]} if "global_per_second" in spec else {}
    fake = FakeTelegramAPI(enforce_limits=bool(spec.get("enforce_limits")), **limits)
    await fake.start()
    # Callback queries are fed to the bot directly, so the fake does not know their ids.
    fake.set_handler("answerCallbackQuery", lambda call: True)
    fake.set_handler("editMessageReplyMarkup", _edited)
    return fake, {"url": fake.url, "token": fake.token}


async def _slack(spec: Json) -> tuple[Any, Json]:
    fake = FakeSlackAPI(enforce_limits=bool(spec.get("enforce_limits")), auto_create_channels=True)
    await fake.start()
    return fake, {"url": fake.url, "api_url": fake.api_url, "token": fake.token}


def _stats(fake: Any, args: Json) -> Json:
    """Counts of calls by ``method:status``; with ``sends`` also ``[time, chat, status]`` of every
    message sent or edited (time is ``time.monotonic()``, the same clock in every process)."""
    counts = Counter(f"{c.method}:{c.status}" for c in fake.calls)
    out: Json = {"counts": dict(counts), "rate_limited": fake.rate_limited}
    if args.get("sends"):
        out["sends"] = [
            [c.time, str(c.params.get("chat_id") or c.params.get("channel")), c.method, c.status]
            for c in fake.calls
            if c.method in SEND_METHODS
        ]
    return out


def _setup(fake: FakeSlackAPI, args: Json) -> Json:
    for user_id, name in args.get("users", []):
        fake.add_user(user_id, name.lower(), f"{name} Example", display_name=name)
    for channel_id, name, members in args.get("channels", []):
        fake.add_channel(channel_id, name, members=[*members, fake.bot_user_id])
    return {}


async def _storm(fake: FakeSlackAPI, args: Json) -> Json:
    """Every operator clicks Claim on the cards it is given, back to back, all operators at once.

    Returns ``[action_ts, user, ticket, sent, answered, status]`` per click (monotonic times)."""
    url, channel = args["url"], args["channel"]
    seq = itertools.count()
    base = int(time.time())
    plans: list[list[sr.SlackRequest]] = []
    for user, cards in args["plan"]:
        requests = []
        for number, ts in cards:
            request = sr.block_actions(
                user,
                args["action_id"],
                str(number),
                channel=channel,
                message_ts=ts,
                response_url=fake.new_response_url(channel=channel, message_ts=ts, user=user),
                action={"action_ts": f"{base}.{next(seq):06d}"},
            )
            requests.append(request)
        plans.append(requests)
    clicks: list[list[Any]] = []
    connector = aiohttp.TCPConnector(limit=len(plans))

    async def operator(requests: list[sr.SlackRequest]) -> None:
        for request in requests:
            action = request.payload["actions"][0]
            user = request.payload["user"]["id"]
            sent = time.monotonic()
            status, _ = await sr.post(session, url, request)
            answered = time.monotonic()
            clicks.append([action["action_ts"], user, int(action["value"]), sent, answered, status])

    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(operator(requests) for requests in plans))
    return {"clicks": clicks}


async def main(spec: Json) -> None:
    fake, info = await (_telegram(spec) if spec["kind"] == "telegram" else _slack(spec))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def answer(data: Json) -> None:
        sys.stdout.write(json.dumps(data) + "\n")
        sys.stdout.flush()

    answer(info)
    try:
        while line := await reader.readline():
            args = json.loads(line)
            match args["cmd"]:
                case "stats":
                    answer(_stats(fake, args))
                case "clear":
                    fake.calls.clear()
                    fake.rate_limited = 0
                    if isinstance(fake, FakeTelegramAPI):
                        fake.sent.clear()
                    answer({})
                case "block" if isinstance(fake, FakeTelegramAPI):
                    for chat in args["chats"]:
                        fake.block_chat(int(chat))
                case "enforce":
                    fake.enforce_limits = bool(args["on"])
                    answer({})
                case "setup":
                    answer(_setup(fake, args))
                case "storm":
                    answer(await _storm(fake, args))
                case "stop":
                    answer({})
                    break
    finally:
        await fake.stop()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
