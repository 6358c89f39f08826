"""``helpdesk check`` against Telegram: every group the desk works in must exist, and the bot
must be able to work there (read the desk's messages, and manage topics in a forum)."""

from __future__ import annotations

from telegram import Bot, ChatMemberAdministrator, ChatMemberOwner
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError

from bot.config import Settings
from bot.places import chats_on
from bot.telegram_desk_sender import PLATFORM
from handlers.config import DeskConfig


async def telegram_group_problems(settings: Settings, config: DeskConfig) -> list[str]:
    """One line per group the desk cannot use (empty when all is well)."""
    groups = chats_on(PLATFORM, settings, config)
    if not groups:
        return []
    api = settings.telegram_api_url.rstrip("/")
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
    )
    problems = []
    try:
        async with bot:
            me = bot.bot
            for chat, user in groups.items():
                problem = await _group_problem(bot, chat, me.can_read_all_group_messages)
                if problem:
                    problems.append(f"{user}: Telegram group {chat}: {problem}")
    except TelegramError as error:
        if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
            return [f"TELEGRAM_API_URL: cannot reach Telegram ({error})"]
        return [f"TELEGRAM_BOT_TOKEN: Telegram refused it ({error})"]
    return problems


async def _group_problem(bot: Bot, chat: str, reads_all: bool | None) -> str:
    try:
        info = await bot.get_chat(chat)
        member = await bot.get_chat_member(chat, bot.id)
    except (BadRequest, Forbidden) as error:  # BadRequest is a NetworkError in PTB: first
        return f"{error.message}; is the bot in it?"
    if info.type not in ("group", "supergroup"):
        return f"is a {info.type}, not a group"
    admin = isinstance(member, ChatMemberOwner | ChatMemberAdministrator)
    if info.is_forum:
        if not (isinstance(member, ChatMemberOwner) or (admin and member.can_manage_topics)):
            return "the bot must be an admin allowed to manage topics"
        return ""
    if not (admin or reads_all):
        return "the bot cannot read operators' messages: make it an admin or turn privacy mode off"
    return ""
