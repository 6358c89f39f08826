"""The ``helpdesk`` command against a real database and the stand-in platforms: ``report`` in
every format, ``check`` finding what the desk cannot use, and ``run`` refusing to start, in one
line, with a token a platform rejects or an API it cannot reach."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.standins.ports import free_port
from bot.standins.slack_api import FakeSlackAPI
from bot.standins.telegram_api import FakeTelegramAPI
from handlers.config import DeskConfig
from tests.conftest import Clock
from tests.factories import file_ticket, make_desk

HELPDESK = str(Path(sys.executable).with_name("helpdesk"))


async def start(*args: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    base = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    return await asyncio.create_subprocess_exec(
        HELPDESK,
        *args,
        env=base | env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process, within: float) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); a process still running after ``within`` s is killed."""
    try:
        out, err = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"helpdesk still running after {within}s") from None
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def helpdesk(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    return await finish(await start(*args, env=env, cwd=cwd), 120)


async def test_report_in_every_format(sessions, database_url: str, clock: Clock, tmp_path):
    desk = make_desk(sessions, clock)
    for i in range(3):
        await file_ticket(desk, cause=f"t{i}")
    env = {"DATABASE_URL": database_url}
    since = ["--since", "2026-11-20", "--until", "2026-11-24"]
    code, out, err = await helpdesk("report", *since, "--format", "json", env=env, cwd=tmp_path)
    assert code == 0, err
    data = json.loads(out)
    assert json.dumps(data).count("printers") >= 1 and "3" in json.dumps(data)
    code, out, _ = await helpdesk("report", *since, "--format", "csv", env=env, cwd=tmp_path)
    assert code == 0 and list(csv.reader(io.StringIO(out)))
    code, out, _ = await helpdesk("report", *since, env=env, cwd=tmp_path)
    assert code == 0 and "printers" in out
    code, _, err = await helpdesk("report", "--period", "yesterday-ish", env=env, cwd=tmp_path)
    assert code == 2 and err.count("\n") == 1


async def test_check_names_the_channels_the_desk_cannot_use(tmp_path: Path) -> None:
    async with platforms() as (tg, slack):
        for line in DeskConfig().lines[:-3]:
            slack.add_channel(line.channel, line.id)
        slack.add_channel("C0SOFTWARE", "software", bot_is_member=False)
        slack.add_channel("C0EQUIPMENT", "equipment", is_archived=True)
        env = _env(tg, slack, tmp_path, TELEGRAM_BOT_TOKEN="")
        code, out, err = await helpdesk("check", env=env, cwd=tmp_path)
    assert code == 1 and "support lines (5)" in out
    assert err.splitlines() == [
        "helpdesk: line 'software': the bot is not in Slack channel C0SOFTWARE; invite it",
        "helpdesk: line 'equipment': Slack channel C0EQUIPMENT is archived",
        "helpdesk: line 'billing': Slack channel C0BILLING: channel_not_found",
    ]


async def test_check_connects_to_everything_configured(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    async with platforms() as (tg, slack):
        for line in DeskConfig().lines:
            slack.add_channel(line.channel, line.id)
        env = _env(tg, slack, tmp_path, DATABASE_URL=database_url, REDIS_URL=redis_url)
        code, out, err = await helpdesk("check", env=env, cwd=tmp_path)
    assert (code, err) == (0, "")
    connections = out.split("connections:\n", 1)[1].splitlines()
    assert connections == [
        "  database: ok",
        *(["  redis: ok"] if redis_url else []),
        "  telegram: ok",
        "  slack: ok",
        "  slack app token: ok",
        "  slack channels (6): ok",
    ]
    assert [c.method for c in tg.calls] == ["getMe"]


async def test_check_says_per_line_what_is_wrong(tmp_path: Path) -> None:
    async with platforms() as (tg, slack):
        env = _env(
            tg,
            slack,
            tmp_path,
            DATABASE_URL=f"sqlite:///{tmp_path}/no/such/dir/desk.db",
            REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
            TELEGRAM_BOT_TOKEN="123:wrong",
            SLACK_BOT_TOKEN="xoxb-wrong",
            SLACK_APP_TOKEN="xapp-1-wrong",
        )
        code, out, err = await helpdesk("check", env=env, cwd=tmp_path)
    assert code == 1
    assert out.endswith("connections:\n")
    lines = err.splitlines()
    assert [line.split(" ")[1].rstrip(":") for line in lines] == [
        "DATABASE_URL",
        "REDIS_URL",
        "TELEGRAM_BOT_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
    ]
    assert lines[0] == "helpdesk: DATABASE_URL: cannot connect (unable to open database file)"
    assert lines[2] == "helpdesk: TELEGRAM_BOT_TOKEN was rejected by Telegram (401 Unauthorized)"
    assert lines[4] == "helpdesk: SLACK_APP_TOKEN was rejected by Slack (invalid_auth)"
    for secret in ("123:wrong", "xoxb-wrong", "xapp-1-wrong"):
        assert secret not in err


@pytest.mark.parametrize(
    ("private", "allow_list", "warned"),
    [(False, False, True), (True, False, False), (False, True, False)],
    ids=["public", "private", "public with an allow-list"],
)
async def test_check_warns_when_anyone_could_join_the_operators(
    tmp_path: Path, private: bool, allow_list: bool, warned: bool
) -> None:
    config = tmp_path / "desk.toml"
    config.write_text('[desk]\noperators = ["U0BOB"]\n' if allow_list else "", encoding="utf-8")
    async with platforms() as (tg, slack):
        slack.add_channel("C0OPERATORS", "ops", is_private=private)
        for line in DeskConfig().lines:
            slack.add_channel(line.channel, line.id)
        env = _env(tg, slack, tmp_path, HELPDESK_CONFIG=str(config))
        code, _, err = await helpdesk("check", env=env, cwd=tmp_path)
    assert code == 0  # a warning, not an error
    warning = (
        "helpdesk: warning: SLACK_OPERATORS_CHANNEL: channel C0OPERATORS is public: anyone in"
        " the workspace can join it and become an operator; make it private or list the"
        " operators in [desk] operators"
    )
    assert err.splitlines() == ([warning] if warned else [])


# --- start-up: tokens and APIs -------------------------------------------------------------------


@asynccontextmanager
async def platforms() -> AsyncIterator[tuple[FakeTelegramAPI, FakeSlackAPI]]:
    async with FakeTelegramAPI() as tg, FakeSlackAPI() as slack:
        slack.tokens.add("xapp-1-good")
        slack.add_channel("C0OPERATORS", "ops", is_private=True)
        yield tg, slack


def _env(tg: FakeTelegramAPI, slack: FakeSlackAPI, tmp_path: Path, **given: str) -> dict[str, str]:
    telegram = {"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.url}
    slack_env = {
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_API_URL": slack.api_url,
        "SLACK_OPERATORS_CHANNEL": "C0OPERATORS",
        "SLACK_MODE": "socket",
        "SLACK_APP_TOKEN": "xapp-1-good",
    }
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path}/desk.db",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(free_port()),
        "METRICS_PORT": "0",
        **telegram,
        **slack_env,
        **given,
    }


STARTUP_FAILURES = {
    "telegram token": (
        {"TELEGRAM_BOT_TOKEN": "123:wrong"},
        "TELEGRAM_BOT_TOKEN was rejected by Telegram (401 Unauthorized)",
    ),
    "slack bot token": (
        {"SLACK_BOT_TOKEN": "xoxb-wrong"},
        "SLACK_BOT_TOKEN was rejected by Slack (invalid_auth)",
    ),
    "slack app token": (
        {"SLACK_APP_TOKEN": "xapp-1-wrong"},
        "SLACK_APP_TOKEN was rejected by Slack (invalid_auth)",
    ),
    "telegram unreachable": (
        {"TELEGRAM_API_URL": "http://127.0.0.1:{nothing}"},
        "TELEGRAM_API_URL: cannot reach Telegram (ClientConnectorError)",
    ),
    "slack unreachable": (
        {"SLACK_API_URL": "http://127.0.0.1:{nothing}/api/"},
        "SLACK_API_URL: cannot reach Slack (ClientConnectorError)",
    ),
}


@pytest.mark.parametrize(
    ("given", "said"), list(STARTUP_FAILURES.values()), ids=list(STARTUP_FAILURES)
)
async def test_run_stops_with_one_line_naming_the_setting(
    tmp_path: Path, given: dict[str, str], said: str
) -> None:
    async with platforms() as (tg, slack):
        nothing = free_port()  # where nothing listens
        env = _env(tg, slack, tmp_path, **{k: v.format(nothing=nothing) for k, v in given.items()})
        code, out, err = await finish(await start("run", env=env, cwd=tmp_path), 60)
    assert code == 2
    assert err.splitlines() == [f"helpdesk: {said}"]
    assert out == ""
    for secret in ("123:wrong", "xoxb-wrong", "xapp-1-wrong", tg.token, slack.token):
        assert secret not in err


async def _silent_server() -> tuple[asyncio.Server, asyncio.Event]:
    """A server that takes connections and never answers; ``called`` is set on the first."""
    called = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        called.set()
        await reader.read()  # until the client goes away
        writer.close()

    return await asyncio.start_server(hold, "127.0.0.1", 0), called


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_the_first_signal_stops_a_start_that_waits_for_an_api(
    tmp_path: Path, sig: signal.Signals
) -> None:
    server, called = await _silent_server()
    port = server.sockets[0].getsockname()[1]
    async with server, platforms() as (tg, slack):
        env = _env(tg, slack, tmp_path, PLATFORM_TIMEOUT="100", OUTBOX_LEASE="300")
        env["TELEGRAM_API_URL"] = f"http://127.0.0.1:{port}"
        process = await start("run", env=env, cwd=tmp_path)
        try:
            await asyncio.wait_for(called.wait(), 60)  # start-up is waiting for Telegram
        finally:
            process.send_signal(sig)
        code, _, err = await finish(process, 30)  # well before PLATFORM_TIMEOUT
    assert code != 0
    assert "Traceback" not in err


async def test_check_names_the_telegram_groups_the_bot_cannot_work_in(tmp_path: Path) -> None:
    async with FakeTelegramAPI() as fake:
        fake.add_group(-1001, "operators", forum=True)  # fine: admin managing topics
        fake.add_group(-1002, "sysadmins", forum=True, bot_rights=["can_delete_messages"])
        fake.add_group(-1003, "pos", bot_status="member")  # no topics, privacy mode on
        (tmp_path / "desk.toml").write_text(
            "".join(
                f'[[lines]]\nid = "{line}"\nname = "{line}"\nchannel = "telegram:{chat}"\n'
                for line, chat in (("sysadmins", -1002), ("pos", -1003), ("billing", -1004))
            )
            + '[[categories]]\nid = "other"\nline = "sysadmins"\n',
            encoding="utf-8",
        )
        env = {
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_URL": fake.url,
            "TELEGRAM_OPERATORS_CHAT": "-1001",
            "HELPDESK_CONFIG": str(tmp_path / "desk.toml"),
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        }
        code, out, err = await helpdesk("check", env=env, cwd=tmp_path)
        assert code == 1 and "operators: Telegram group -1001" in out
        assert sorted(err.strip().splitlines()) == [
            "helpdesk: line 'billing': Telegram group -1004: Chat not found; is the bot in it?",
            "helpdesk: line 'pos': Telegram group -1003: the bot cannot read operators' "
            "messages: make it an admin or turn privacy mode off",
            "helpdesk: line 'sysadmins': Telegram group -1002: the bot must be an admin "
            "allowed to manage topics",
        ]
        fake.privacy_mode = False
        fake.set_member(
            -1002,
            {"id": 123456, "is_bot": True, "first_name": "Helpdesk"},
            "administrator",
            rights=["can_manage_topics"],
        )
        fake.add_group(-1004, "billing")
        code, _, err = await helpdesk("check", env=env, cwd=tmp_path)
        assert code == 0, err
