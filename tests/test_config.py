"""Configuration: process settings (.env), the desk config (TOML), and the ``helpdesk`` CLI.

Every error a misconfigured deployment can hit must be one line that names the setting as it is
written (upper-case env name, or HELPDESK_CONFIG for the desk file), never a traceback, and
never a secret. The two shipped examples must stay complete and loadable.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from datetime import date, time, timedelta
from importlib.metadata import version
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import Settings, SettingsError, load_settings
from bot.places import places_of
from handlers.config import (
    BusinessHours,
    Category,
    ConfigError,
    DeskConfig,
    DeskSettings,
    SavedReply,
    Solution,
    SupportLine,
    load_desk_config,
)
from handlers.outbound import Place
from handlers.tickets import Priority
from storage.models import Base

ROOT = Path(__file__).resolve().parents[1]
ENV_EXAMPLE = ROOT / ".env.example"
TOML_EXAMPLE = ROOT / "helpdesk.example.toml"
ENV_NAMES = {name.upper() for name in Settings.model_fields}
SECRET_FIELDS = {
    name for name, field in Settings.model_fields.items() if field.annotation is SecretStr
}


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No stray .env (cwd is a fresh directory) and none of our settings in the environment."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def parse_env_file(path: Path) -> list[tuple[int, str, str]]:
    """(line index, NAME, value) for each assignment; comments and blank lines skipped."""
    entries = []
    for index, raw in enumerate(path.read_text(encoding="utf-8").splitlines()):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assert "=" in line, f".env.example line {index + 1} is neither a comment nor NAME=value"
        name, value = line.split("=", 1)
        entries.append((index, name.strip(), value.strip()))
    return entries


def one_line(message: str) -> str:
    assert message, "empty error message"
    assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
    return message


# --- .env.example ------------------------------------------------------------------------------


def test_env_example_lists_exactly_the_settings() -> None:
    names = [name for _, name, _ in parse_env_file(ENV_EXAMPLE)]
    assert len(names) == len(set(names)), "a variable is listed twice"
    assert set(names) == ENV_NAMES


def test_env_example_comments_every_variable() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, name, _ in parse_env_file(ENV_EXAMPLE):
        above = lines[index - 1].strip() if index else ""
        assert above.startswith("#") and len(above) > 2, f"{name} has no comment right above it"


def test_env_example_shows_defaults_and_no_secrets() -> None:
    for _, name, value in parse_env_file(ENV_EXAMPLE):
        field = name.lower()
        if field in SECRET_FIELDS:
            assert value == "", f"{name} is a secret: leave it empty in the example"
        else:
            assert value == str(Settings.model_fields[field].default), f"{name} is not the default"


def test_env_example_copied_to_dotenv_gives_the_defaults(isolated: Path) -> None:
    shutil.copy(ENV_EXAMPLE, isolated / ".env")
    settings = load_settings()
    for name, field in Settings.model_fields.items():
        assert getattr(settings, name) == field.default, name
    assert not settings.telegram_enabled and not settings.slack_enabled


def test_dotenv_in_the_working_directory_is_read(isolated: Path) -> None:
    (isolated / ".env").write_text("LOG_LEVEL=DEBUG\nHTTP_PORT=9000\n", encoding="utf-8")
    settings = load_settings()
    assert (settings.log_level, settings.http_port) == ("DEBUG", 9000)


# --- Settings validation -----------------------------------------------------------------------

TG = {"TELEGRAM_BOT_TOKEN": "123:SECRETSECRET"}
SLACK = {"SLACK_BOT_TOKEN": "xoxb-SLACKSECRET", "SLACK_OPERATORS_CHANNEL": "C0123ABCD"}

BAD_SETTINGS = {
    "telegram api url scheme": ({"TELEGRAM_API_URL": "ftp://api.telegram.org"}, "TELEGRAM_API_URL"),
    "telegram api url bare host": ({"TELEGRAM_API_URL": "api.telegram.org"}, "TELEGRAM_API_URL"),
    "slack api url": ({"SLACK_API_URL": "slack.com/api/"}, "SLACK_API_URL"),
    "slack api url no host": ({"SLACK_API_URL": "https://"}, "SLACK_API_URL"),
    "webhook url": ({"TELEGRAM_WEBHOOK_URL": "not a url"}, "TELEGRAM_WEBHOOK_URL"),
    "telegram mode": ({"TELEGRAM_MODE": "hook"}, "TELEGRAM_MODE"),
    "slack mode": ({"SLACK_MODE": "rtm"}, "SLACK_MODE"),
    "log level": ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL"),
    "webhook without url": (
        {**TG, "TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_SECRET": "HOOKSECRET"},
        "TELEGRAM_WEBHOOK_URL",
    ),
    "webhook without secret": (
        {**TG, "TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_URL": "https://desk.example.com/tg"},
        "TELEGRAM_WEBHOOK_SECRET",
    ),
    "socket without app token": ({**SLACK, "SLACK_MODE": "socket"}, "SLACK_APP_TOKEN"),
    "http without signing secret": (
        {**SLACK, "SLACK_MODE": "http", "SLACK_APP_TOKEN": "xapp-APPSECRET"},
        "SLACK_SIGNING_SECRET",
    ),
    "slack without operators channel": (
        {"SLACK_BOT_TOKEN": "xoxb-SLACKSECRET", "SLACK_APP_TOKEN": "xapp-APPSECRET"},
        "SLACK_OPERATORS_CHANNEL",
    ),
    "operators in both places": (
        {**TG, **SLACK, "SLACK_APP_TOKEN": "xapp-APPSECRET", "TELEGRAM_OPERATORS_CHAT": "-1001"},
        "TELEGRAM_OPERATORS_CHAT and SLACK_OPERATORS_CHANNEL are both set",
    ),
    "telegram operators without a bot": (
        {"TELEGRAM_OPERATORS_CHAT": "-1001234567890"},
        "TELEGRAM_BOT_TOKEN",
    ),
    "telegram operators chat not a group id": (
        {**TG, "TELEGRAM_OPERATORS_CHAT": "@it_operators"},
        "TELEGRAM_OPERATORS_CHAT",
    ),
    "database mysql": ({"DATABASE_URL": "mysql://u:DBPASSWORD@db/helpdesk"}, "DATABASE_URL"),
    "database other sqlite driver": (
        {"DATABASE_URL": "sqlite+pysqlite:///helpdesk.db"},
        "DATABASE_URL",
    ),
    "database sync postgres": (
        {"DATABASE_URL": "postgresql://u:DBPASSWORD@db/helpdesk"},
        "DATABASE_URL",
    ),
    "redis host only": ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
    "redis http": ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL"),
    "port zero": ({"HTTP_PORT": "0"}, "HTTP_PORT"),
    "port too big": ({"HTTP_PORT": "65536"}, "HTTP_PORT"),
    "port negative": ({"HTTP_PORT": "-1"}, "HTTP_PORT"),
    "port not a number": ({"HTTP_PORT": "eighty"}, "HTTP_PORT"),
    "metrics on the public port": ({"METRICS_PORT": "8080"}, "METRICS_PORT"),
    "metrics port too big": ({"METRICS_PORT": "65536"}, "METRICS_PORT"),
}

SECRET_VALUES = ("SECRETSECRET", "SLACKSECRET", "APPSECRET", "HOOKSECRET", "SIGNSECRET")


@pytest.mark.parametrize(
    ("env", "setting"), list(BAD_SETTINGS.values()), ids=list(BAD_SETTINGS.keys())
)
def test_bad_settings_name_the_variable_in_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], setting: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = one_line(str(caught.value))
    assert setting in message
    assert "Traceback" not in message and "pydantic" not in message.lower()
    for secret in SECRET_VALUES:
        assert secret not in message


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"telegram_api_url": "telegram"}, "TELEGRAM_API_URL"),
        ({"http_port": 70000}, "HTTP_PORT"),
        ({"database_url": "oracle://db"}, "DATABASE_URL"),
        ({"slack_mode": "events"}, "SLACK_MODE"),
    ],
)
def test_overrides_are_validated_like_the_environment(
    overrides: dict[str, object], setting: str
) -> None:
    with pytest.raises(SettingsError, match=setting) as caught:
        load_settings(**overrides)
    one_line(str(caught.value))


def test_several_bad_settings_are_reported_together_on_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_API_URL", "nope")
    monkeypatch.setenv("HTTP_PORT", "99999")
    monkeypatch.setenv("REDIS_URL", "memcached://x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = one_line(str(caught.value))
    for setting in ("TELEGRAM_API_URL", "HTTP_PORT", "REDIS_URL"):
        assert setting in message


@pytest.mark.parametrize(
    "env",
    [
        {},
        {**TG},
        # mode requirements only apply to an adapter that is switched on
        {"TELEGRAM_MODE": "webhook", "SLACK_MODE": "http"},
        {
            **TG,
            "TELEGRAM_MODE": "webhook",
            "TELEGRAM_WEBHOOK_URL": "https://desk.example.com/telegram/webhook",
            "TELEGRAM_WEBHOOK_SECRET": "HOOKSECRET",
        },
        {**SLACK, "SLACK_APP_TOKEN": "xapp-APPSECRET"},
        {**SLACK, "SLACK_MODE": "http", "SLACK_SIGNING_SECRET": "SIGNSECRET"},
        {"DATABASE_URL": "postgresql+asyncpg://helpdesk:pw@db:5432/helpdesk"},
        {"REDIS_URL": "redis://localhost:6379/0"},
        {"REDIS_URL": "rediss://:pw@cache:6380/1"},
        {"REDIS_URL": "unix:///run/redis.sock"},
        {"HTTP_PORT": "1"},
        {"HTTP_PORT": "65535"},
        {"TELEGRAM_API_URL": "http://127.0.0.1:8081", "SLACK_API_URL": "http://127.0.0.1:9/api/"},
    ],
)
def test_good_settings_load(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.telegram_enabled == ("TELEGRAM_BOT_TOKEN" in env)
    assert settings.slack_enabled == ("SLACK_BOT_TOKEN" in env)


def test_secrets_do_not_show_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**SLACK, **TG, "SLACK_APP_TOKEN": "xapp-APPSECRET"}.items():
        monkeypatch.setenv(name, value)
    text = repr(load_settings())
    for secret in SECRET_VALUES:
        assert secret not in text


# --- helpdesk.example.toml ---------------------------------------------------------------------


def test_example_desk_config_loads_completely() -> None:
    config = load_desk_config(TOML_EXAMPLE)
    assert len(config.categories) == 8
    assert len(config.lines) == 5
    assert set(config.sla) == set(Priority)
    line_ids = {line.id for line in config.lines}
    assert all(category.line in line_ids for category in config.categories)
    assert all(set(category.labels) == {"en", "uk"} for category in config.categories)
    assert any(line.ping for line in config.lines)

    hours = config.business_hours
    assert hours is not None
    assert hours.timezone == "Europe/Kyiv"
    assert hours.days == ["mon", "tue", "wed", "thu", "fri"]
    assert (hours.start, hours.end) == (time(9), time(18))
    assert date(2026, 1, 1) in hours.holidays

    assert config.sla[Priority.P1].respond == timedelta(minutes=15)
    assert config.sla[Priority.P1].resolve == timedelta(hours=4)
    assert config.sla[Priority.P4].resolve == timedelta(days=3)
    assert config.desk.intake_idle == timedelta(minutes=30)
    assert config.desk.burst_window == timedelta(seconds=3)
    assert 0 < config.desk.reminder_share < 1
    assert config.desk.operators and config.desk.supervisor

    assert config.solutions and config.replies
    assert all(set(s.title) == set(s.answer) == {"en", "uk"} for s in config.solutions)
    assert all(set(r.title) == set(r.text) == {"en", "uk"} for r in config.replies)


def test_example_desk_config_sets_every_option() -> None:
    raw = tomllib.loads(TOML_EXAMPLE.read_text(encoding="utf-8"))
    assert set(raw) == set(DeskConfig.model_fields)
    assert set(raw["desk"]) == set(DeskSettings.model_fields)
    assert set(raw["business_hours"]) == set(BusinessHours.model_fields)
    assert set(raw["sla"]) == {p.value for p in Priority}
    assert all(set(category) == set(Category.model_fields) for category in raw["categories"])
    assert set().union(*(line.keys() for line in raw["lines"])) == set(SupportLine.model_fields)
    assert set().union(*(s.keys() for s in raw["solutions"])) == set(Solution.model_fields)
    assert set().union(*(r.keys() for r in raw["replies"])) == set(SavedReply.model_fields)


def test_example_categories_and_lines_match_the_built_in_defaults() -> None:
    example, builtin = load_desk_config(TOML_EXAMPLE), DeskConfig()
    assert [(c.id, c.line, c.labels) for c in example.categories] == [
        (c.id, c.line, c.labels) for c in builtin.categories
    ]
    assert [(line.id, line.name) for line in example.lines] == [
        (line.id, line.name) for line in builtin.lines
    ]
    assert example.sla == builtin.sla


def test_no_config_means_the_built_in_defaults() -> None:
    assert load_desk_config(None) == DeskConfig()
    assert load_desk_config("") == DeskConfig()


def test_durations_accept_plain_seconds_and_units(isolated: Path) -> None:
    path = isolated / "desk.toml"
    path.write_text('[desk]\nintake_idle = 90\nconfirm_timeout = " 2d "\n', encoding="utf-8")
    desk = load_desk_config(path).desk
    assert (desk.intake_idle, desk.confirm_timeout) == (timedelta(seconds=90), timedelta(days=2))


# --- desk config errors ------------------------------------------------------------------------

LINE_A = '[[lines]]\nid = "a"\nname = "A"\nchannel = "C0123ABCD"\n'
CATEGORY_A = '[[categories]]\nid = "x"\nline = "a"\n'
SLA = (
    '[sla.P1]\nrespond = "15m"\nresolve = "4h"\n'
    '[sla.P2]\nrespond = "1h"\nresolve = "8h"\n'
    '[sla.P3]\nrespond = "2h"\nresolve = "1d"\n'
    '[sla.P4]\nrespond = "8h"\nresolve = "3d"\n'
)

SOLUTION_A = (
    '[[solutions]]\nid = "e13"\ncategories = ["printers"]\n'
    'title = { en = "E13" }\nanswer = { en = "Open tray 2." }\n'
)
REPLY_A = '[[replies]]\nid = "restart"\ntitle = { en = "Restart" }\ntext = { en = "Restart." }\n'

BAD_CONFIGS = {
    "invalid toml": ("[desk\ninternal_prefix = '//'\n", ["not valid TOML", "line 1"]),
    "not a key": ("categories = [\n", ["not valid TOML"]),
    "unknown line": (
        '[[categories]]\nid = "printers"\nline = "plumbers"\n',
        ["category 'printers'", "unknown line 'plumbers'"],
    ),
    "default categories need default lines": (LINE_A, ["unknown line 'sysadmins'"]),
    "duplicate category": (LINE_A + CATEGORY_A + CATEGORY_A, ["duplicate category 'x'"]),
    "duplicate line": (LINE_A + LINE_A + CATEGORY_A, ["duplicate line 'a'"]),
    "bad duration": ('[desk]\nintake_idle = "half an hour"\n', ["desk.intake_idle", "duration"]),
    "bad sla duration": (
        SLA.replace('respond = "15m"', 'respond = "15 min"'),
        ["sla.P1.respond", "'15 min'"],
    ),
    "zero sla target": (
        SLA.replace('respond = "1h"', 'respond = "0s"'),
        ["sla.P2.respond", "longer than zero"],
    ),
    "negative sla target": (
        SLA.replace('resolve = "3d"', "resolve = -5"),
        ["sla.P4.resolve", "longer than zero"],
    ),
    "sla priority missing": ('[sla.P1]\nrespond = "15m"\nresolve = "4h"\n', ["P2, P3, P4"]),
    "channel name instead of id": (
        LINE_A.replace("C0123ABCD", "#it-support") + CATEGORY_A,
        ["channel '#it-support'", "line 'a'"],
    ),
    "lower-case channel id": (
        LINE_A.replace("C0123ABCD", "c0123abcd") + CATEGORY_A,
        ["channel 'c0123abcd'"],
    ),
    "direct message id": (LINE_A.replace("C0123ABCD", "D0123ABCD") + CATEGORY_A, ["D0123ABCD"]),
    "line in a private chat": (
        LINE_A.replace("C0123ABCD", "telegram:chat") + CATEGORY_A,
        ["<platform>:<chat id>"],
    ),
    "unknown time zone": (
        '[business_hours]\ntimezone = "Mars/Olympus"\n',
        ["unknown time zone 'Mars/Olympus'"],
    ),
    "time zone directory": ('[business_hours]\ntimezone = "Europe"\n', ["unknown time zone"]),
    "start after end": (
        "[business_hours]\nstart = 18:00:00\nend = 09:00:00\n",
        ["business_hours.start must be before business_hours.end"],
    ),
    "start equals end": (
        '[business_hours]\nstart = "09:00"\nend = "09:00"\n',
        ["business_hours.start must be before business_hours.end"],
    ),
    "bad weekday": ('[business_hours]\ndays = ["monday"]\n', ["business_hours.days.0"]),
    "typo in a key": ("[desk]\nintenal_prefix = '#'\n", ["desk.intenal_prefix"]),
    "unknown section": ("[slack]\nchannel = 'C0123ABCD'\n", ["slack"]),
    "reminder share of one": ("[desk]\nreminder_share = 1\n", ["desk.reminder_share"]),
    "no categories": ("categories = []\n", ["no categories configured"]),
    "category id case": (
        '[[categories]]\nid = "Hardware"\nline = "sysadmins"\n',
        ["categories.0.id"],
    ),
    "category id longer than Telegram's button data allows": (
        f'[[categories]]\nid = "{"x" * 25}"\nline = "sysadmins"\n',
        ["categories.0.id", "at most 24 characters"],
    ),
    "line id longer than Telegram's button data allows": (
        f'[[lines]]\nid = "{"x" * 25}"\nname = "X"\nchannel = "C0123ABCD"\n',
        ["lines.0.id", "at most 24 characters"],
    ),
    "solution for an unknown category": (
        SOLUTION_A.replace('"printers"', '"plumbing"'),
        ["solution 'e13' names unknown category 'plumbing'"],
    ),
    "duplicate solution": (SOLUTION_A + SOLUTION_A, ["duplicate solution 'e13'"]),
    "solution without categories": (
        SOLUTION_A.replace('["printers"]', "[]"),
        ["solutions.0.categories"],
    ),
    "solution with an empty answer": (
        SOLUTION_A.replace('answer = { en = "Open tray 2." }', 'answer = { en = " " }'),
        ["solutions.0.answer", "at least one language"],
    ),
    "solution link that is no web address": (
        SOLUTION_A + 'link = "javascript:alert(1)"\n',
        ["solution 'e13'", "not an http(s) address"],
    ),
    "duplicate saved reply": (REPLY_A + REPLY_A, ["duplicate reply 'restart'"]),
    "saved reply without text": (
        '[[replies]]\nid = "restart"\ntitle = { en = "Restart" }\ntext = {}\n',
        ["replies.0.text"],
    ),
}


@pytest.mark.parametrize(
    ("text", "fragments"), list(BAD_CONFIGS.values()), ids=list(BAD_CONFIGS.keys())
)
def test_bad_desk_config_is_one_clear_line(isolated: Path, text: str, fragments: list[str]) -> None:
    path = isolated / "desk.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_desk_config(path)
    message = one_line(str(caught.value))
    assert message.startswith("HELPDESK_CONFIG: ")
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_missing_desk_config_file(isolated: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_desk_config(isolated / "nowhere.toml")
    message = one_line(str(caught.value))
    assert message.startswith("HELPDESK_CONFIG: ")
    assert "nowhere.toml" in message and "not found" in message


def test_desk_config_that_is_not_utf8(isolated: Path) -> None:
    path = isolated / "desk.toml"
    path.write_bytes(b"[desk]\ninternal_prefix = '\xff'\n")
    with pytest.raises(ConfigError, match="HELPDESK_CONFIG") as caught:
        load_desk_config(path)
    one_line(str(caught.value))


def test_desk_config_path_that_is_a_directory(isolated: Path) -> None:
    with pytest.raises(ConfigError, match="HELPDESK_CONFIG"):
        load_desk_config(isolated)


# --- the helpdesk command ----------------------------------------------------------------------

_SCRIPT = Path(sys.executable).with_name("helpdesk")
HELPDESK = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]


def helpdesk(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI in ``cwd`` with only PATH, HOME and ``env`` in its environment."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(
        [*HELPDESK, *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_version(isolated: Path) -> None:
    result = helpdesk(isolated, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"helpdesk {version('helpdesk')}"


def test_check_with_the_example_config_shows_the_desk(isolated: Path) -> None:
    result = helpdesk(isolated, "check", HELPDESK_CONFIG=str(TOML_EXAMPLE))
    assert result.returncode == 1, "no adapter token: nothing would run"
    assert "TELEGRAM_BOT_TOKEN" in result.stderr and "SLACK_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    config = load_desk_config(TOML_EXAMPLE)
    assert f"categories ({len(config.categories)})" in result.stdout
    assert f"support lines ({len(config.lines)})" in result.stdout
    for category in config.categories:
        assert f"  {category.id}: {category.label('en')} -> {category.line}" in result.stdout
    for line in config.lines:
        assert f"  {line.id}: {line.name} in {line.channel}" in result.stdout
        for ping in line.ping:
            assert ping in result.stdout
    for priority in Priority:
        assert f"  {priority.value}: respond" in result.stdout
    assert f"known solutions ({len(config.solutions)})" in result.stdout
    for solution in config.solutions:
        assert f"  {solution.id}: {', '.join(solution.categories)}" in result.stdout
    assert f"saved replies ({len(config.replies)})" in result.stdout


def test_check_without_config_shows_the_built_in_desk(isolated: Path) -> None:
    result = helpdesk(isolated, "check")
    assert result.returncode == 1
    assert "categories (8)" in result.stdout and "support lines (5)" in result.stdout


NOTHING_LISTENS = "http://127.0.0.1:9/"  # the discard port: connections are refused


def test_check_connects_with_a_telegram_token_and_never_prints_it(isolated: Path) -> None:
    result = helpdesk(
        isolated,
        "check",
        HELPDESK_CONFIG=str(TOML_EXAMPLE),
        TELEGRAM_BOT_TOKEN="123:SECRETSECRET",
        TELEGRAM_API_URL=NOTHING_LISTENS,
    )
    assert result.returncode == 1, "requesters could write, but no operator would see it"
    assert "telegram: polling" in result.stdout
    assert "TELEGRAM_OPERATORS_CHAT" in result.stderr and "nobody would see" in result.stderr
    assert "SECRETSECRET" not in result.stdout + result.stderr


TELEGRAM_DESK = (
    '[[lines]]\nid = "sysadmins"\nname = "Sysadmins"\nchannel = "telegram:-1002"\n'
    '[[categories]]\nid = "other"\nline = "sysadmins"\n'
)


def test_check_connects_to_telegram_for_a_desk_in_telegram(isolated: Path) -> None:
    (isolated / "desk.toml").write_text(TELEGRAM_DESK, encoding="utf-8")
    result = helpdesk(
        isolated,
        "check",
        HELPDESK_CONFIG=str(isolated / "desk.toml"),
        TELEGRAM_BOT_TOKEN="123:SECRETSECRET",
        TELEGRAM_API_URL=NOTHING_LISTENS,
        TELEGRAM_OPERATORS_CHAT="-1001",
    )
    assert result.returncode == 1
    assert "telegram: polling" in result.stdout
    assert "connections:\n  database: ok\n" in result.stdout
    assert result.stderr.splitlines() == [
        "helpdesk: TELEGRAM_API_URL: cannot reach Telegram (ClientConnectorError)"
    ]
    assert "SECRETSECRET" not in result.stdout + result.stderr


def test_check_names_lines_on_a_platform_without_a_token(isolated: Path) -> None:
    result = helpdesk(
        isolated,
        "check",
        HELPDESK_CONFIG=str(TOML_EXAMPLE),
        TELEGRAM_BOT_TOKEN="123:SECRETSECRET",
        TELEGRAM_OPERATORS_CHAT="-1001234567890",
    )
    assert result.returncode == 1
    assert "operators: Telegram group -1001234567890" in result.stdout
    assert "line 'pos': C0456EFGH is in Slack, but SLACK_BOT_TOKEN is empty" in result.stderr


def test_check_never_prints_any_secret(isolated: Path) -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": "123:SECRETSECRET",
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_WEBHOOK_URL": "https://desk.example.com/telegram/webhook",
        "TELEGRAM_WEBHOOK_SECRET": "HOOKSECRET",
        "SLACK_BOT_TOKEN": "xoxb-SLACKSECRET",
        "SLACK_APP_TOKEN": "xapp-APPSECRET",
        "SLACK_SIGNING_SECRET": "SIGNSECRET",
        "SLACK_MODE": "http",
        "SLACK_OPERATORS_CHANNEL": "C0OPERATORS",
        "SLACK_API_URL": f"{NOTHING_LISTENS}api/",  # check says so, secretly
        "TELEGRAM_API_URL": NOTHING_LISTENS,
        "DATABASE_URL": "postgresql+asyncpg://helpdesk:DBPASSWORD@db/helpdesk",
        "REDIS_URL": "redis://:REDISPASSWORD@cache:6379/0",
    }
    result = helpdesk(isolated, "check", **env)
    assert result.returncode == 1
    problems = result.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in problems] == [
        "DATABASE_URL",
        "REDIS_URL",
        "TELEGRAM_API_URL",
        "SLACK_API_URL",
    ]
    assert problems[-1] == "helpdesk: SLACK_API_URL: cannot reach Slack (ClientConnectorError)"
    assert "telegram: webhook" in result.stdout
    assert "slack: http" in result.stdout
    assert "operators: Slack channel C0OPERATORS" in result.stdout
    output = result.stdout + result.stderr
    for secret in (*SECRET_VALUES, "DBPASSWORD", "REDISPASSWORD"):
        assert secret not in output


def test_check_reads_dotenv_from_the_working_directory(isolated: Path) -> None:
    shutil.copy(ENV_EXAMPLE, isolated / ".env")
    assert helpdesk(isolated, "check").returncode == 1  # the example is valid but enables nothing
    with (isolated / ".env").open("a", encoding="utf-8") as env_file:
        env_file.write("TELEGRAM_BOT_TOKEN=123:SECRETSECRET\n")
    result = helpdesk(isolated, "check")
    assert "telegram: polling" in result.stdout, "the token was read from .env"
    assert "TELEGRAM_OPERATORS_CHAT" in result.stderr  # but the operators have no place yet
    assert "SECRETSECRET" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[desk\n", "not valid TOML"),
        ('[[categories]]\nid = "printers"\nline = "plumbers"\n', "unknown line 'plumbers'"),
        ('[business_hours]\ntimezone = "Mars/Olympus"\n', "Mars/Olympus"),
        (LINE_A + CATEGORY_A + CATEGORY_A, "duplicate category 'x'"),
    ],
    ids=["invalid toml", "unknown line", "unknown zone", "duplicate"],
)
def test_check_with_a_broken_config_prints_one_line(
    isolated: Path, text: str, fragment: str
) -> None:
    (isolated / "desk.toml").write_text(text, encoding="utf-8")
    result = helpdesk(
        isolated, "check", HELPDESK_CONFIG="desk.toml", TELEGRAM_BOT_TOKEN="123:SECRETSECRET"
    )
    line = assert_one_error_line(result)
    assert "HELPDESK_CONFIG" in line and fragment in line
    assert result.stdout == ""
    assert "SECRETSECRET" not in result.stderr


def test_check_with_a_missing_config_file(isolated: Path) -> None:
    result = helpdesk(isolated, "check", HELPDESK_CONFIG="missing.toml")
    line = assert_one_error_line(result)
    assert "HELPDESK_CONFIG" in line and "missing.toml" in line


def test_check_with_a_directory_as_config(isolated: Path) -> None:
    result = helpdesk(isolated, "check", HELPDESK_CONFIG=str(isolated))
    line = assert_one_error_line(result)
    assert "HELPDESK_CONFIG" in line


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"HTTP_PORT": "eighty"}, "HTTP_PORT"),
        ({"DATABASE_URL": "mysql://u:DBPASSWORD@db/x"}, "DATABASE_URL"),
        ({**TG, "TELEGRAM_MODE": "webhook"}, "TELEGRAM_WEBHOOK_URL"),
        ({**SLACK}, "SLACK_APP_TOKEN"),
    ],
    ids=["port", "database", "webhook", "slack socket"],
)
def test_check_with_bad_settings_prints_one_line(
    isolated: Path, env: dict[str, str], setting: str
) -> None:
    result = helpdesk(isolated, "check", **env)
    line = assert_one_error_line(result)
    assert setting in line
    for secret in (*SECRET_VALUES, "DBPASSWORD"):
        assert secret not in line


def test_run_without_adapters_says_what_to_set(isolated: Path) -> None:
    result = helpdesk(isolated, "run")
    line = assert_one_error_line(result)
    assert "TELEGRAM_BOT_TOKEN" in line and "SLACK_BOT_TOKEN" in line
    assert result.stdout == ""


def _tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_db_upgrade_creates_the_tables(isolated: Path) -> None:
    database = isolated / "data" / "desk.db"
    database.parent.mkdir()
    url = f"sqlite+aiosqlite:///{database}"
    result = helpdesk(isolated, "db", "upgrade", DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stdout
    assert "Traceback" not in result.stderr
    tables = _tables(database)
    assert {"alembic_version", *Base.metadata.tables} <= tables

    again = helpdesk(isolated, "db", "upgrade", DATABASE_URL=url)
    assert again.returncode == 0, again.stderr
    assert _tables(database) == tables


def test_db_upgrade_defaults_to_helpdesk_db_in_the_working_directory(isolated: Path) -> None:
    result = helpdesk(isolated, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "tickets" in _tables(isolated / "helpdesk.db")


def test_a_desk_may_mix_slack_and_telegram_places(isolated: Path) -> None:
    path = isolated / "desk.toml"
    path.write_text(
        LINE_A.replace("C0123ABCD", "telegram:-1001234567890")
        + '[[lines]]\nid = "b"\nname = "B"\nchannel = "C0BILLING"\n'
        + CATEGORY_A
        + '[desk]\noperators = ["@bob", "2001"]\ndigest_channel = "telegram:-1009"\n',
        encoding="utf-8",
    )
    config = load_desk_config(path)
    settings = load_settings(
        _env_file=None, telegram_bot_token="123:SECRETSECRET", telegram_operators_chat="-1007"
    )
    places = places_of(settings, config)
    assert places.operators == Place("telegram", "-1007")
    assert places.lines == {
        "a": Place("telegram", "-1001234567890"),
        "b": Place("slack", "C0BILLING"),
    }
    assert places.digest == Place("telegram", "-1009")
