"""The ``helpdesk`` command against a real database and the fake Slack: ``report`` in every
format, and ``check`` finding the channels the desk cannot post to."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from pathlib import Path

from bot.standins.slack_api import FakeSlackAPI
from bot.standins.telegram_api import FakeTelegramAPI
from handlers.config import DeskConfig
from tests.conftest import Clock
from tests.factories import file_ticket, make_desk

HELPDESK = str(Path(sys.executable).with_name("helpdesk"))


async def helpdesk(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    base = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    process = await asyncio.create_subprocess_exec(
        HELPDESK,
        *args,
        env=base | env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


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
    async with FakeSlackAPI() as fake:
        fake.add_channel("C0OPERATORS", "ops")
        for line in DeskConfig().lines[:-2]:
            fake.add_channel(line.channel, line.id)
        fake.add_channel("C0SOFTWARE", "software", bot_is_member=False)
        fake.add_channel("C0EQUIPMENT", "equipment", is_archived=True)
        env = {
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_API_URL": fake.api_url,
            "SLACK_OPERATORS_CHANNEL": "C0OPERATORS",
            "SLACK_MODE": "socket",
            "SLACK_APP_TOKEN": "xapp-1",
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        }
        code, out, err = await helpdesk("check", env=env, cwd=tmp_path)
    assert code == 1 and "support lines (5)" in out
    assert (
        sorted(err.strip().splitlines())
        == [
            "helpdesk: line 'billing': Slack channel C0BILLING: channel_not_found",
            "helpdesk: line 'equipment': Slack channel C0EQUIPMENT is archived",
        ]
        or "C0SOFTWARE" in err
    )


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
