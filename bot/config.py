"""Process settings from the environment and ``.env`` (pydantic-settings).

Every field here is documented, one line each, in ``.env.example``.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from handlers.config import describe_errors


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s) URL")
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = "sqlite:///helpdesk.db"
    redis_url: str = ""
    helpdesk_config: str = ""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    telegram_bot_token: SecretStr = SecretStr("")
    telegram_api_url: str = "https://api.telegram.org"
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_url: str = ""
    telegram_webhook_secret: SecretStr = SecretStr("")
    telegram_operators_chat: str = ""

    slack_bot_token: SecretStr = SecretStr("")
    slack_signing_secret: SecretStr = SecretStr("")
    slack_app_token: SecretStr = SecretStr("")
    slack_mode: Literal["socket", "http"] = "socket"
    slack_api_url: str = "https://slack.com/api/"
    slack_operators_channel: str = ""

    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    metrics_token: SecretStr = SecretStr("")

    telegram_private_interval: float = Field(default=1.0, ge=0)
    telegram_private_burst: int = Field(default=3, ge=1)
    telegram_group_per_minute: int = Field(default=20, ge=0)
    telegram_global_per_second: int = Field(default=28, ge=0)
    slack_channel_interval: float = Field(default=1.0, ge=0)
    slack_tier3_per_minute: int = Field(default=50, ge=0)
    platform_timeout: float = Field(default=10.0, gt=0)
    outbox_lease: float = Field(default=4.0, ge=1)
    outbox_digest_backlog: int = Field(default=20, ge=0)
    shutdown_grace: float = Field(default=10.0, ge=0)
    telegram_poll_lease: float = Field(default=10.0, ge=1)

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("telegram_api_url", "slack_api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("telegram_webhook_url")
    @classmethod
    def _optional_url(cls, value: str) -> str:
        return _http_url(value) if value else value

    @field_validator("telegram_operators_chat")
    @classmethod
    def _group_id(cls, value: str) -> str:
        if value and not re.fullmatch(r"-\d+", value.strip()):
            raise ValueError("not a Telegram group id (a negative number like -1001234567890)")
        return value.strip()

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        # sqlite+aiosqlite:// is what earlier versions documented; both use our SQLite driver
        if not value.startswith(("sqlite://", "sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite:///path.db or postgresql+asyncpg://user@host/db")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("not a redis://, rediss:// or unix:// URL")
        return value

    @model_validator(mode="after")
    def _modes_have_what_they_need(self) -> Settings:
        if self.metrics_port == self.http_port:
            raise ValueError("METRICS_PORT must differ from HTTP_PORT (or be 0 for no metrics)")
        if self.telegram_enabled and self.telegram_mode == "webhook":
            if not self.telegram_webhook_url:
                raise ValueError("TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_URL")
            if not self.telegram_webhook_secret.get_secret_value():
                raise ValueError("TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_SECRET")
        if self.telegram_operators_chat and self.slack_operators_channel:
            raise ValueError(
                "TELEGRAM_OPERATORS_CHAT and SLACK_OPERATORS_CHANNEL are both set: "
                "the operators' desk is in one place; clear one of them"
            )
        if self.telegram_operators_chat and not self.telegram_enabled:
            raise ValueError("TELEGRAM_OPERATORS_CHAT is set but TELEGRAM_BOT_TOKEN is empty")
        if self.slack_enabled:
            if not (self.slack_operators_channel or self.telegram_operators_chat):
                raise ValueError(
                    "SLACK_BOT_TOKEN is set but neither SLACK_OPERATORS_CHANNEL nor "
                    "TELEGRAM_OPERATORS_CHAT says where the operators are"
                )
            if self.slack_mode == "socket" and not self.slack_app_token.get_secret_value():
                raise ValueError("SLACK_MODE=socket needs SLACK_APP_TOKEN (xapp-…)")
            if self.slack_mode == "http" and not self.slack_signing_secret.get_secret_value():
                raise ValueError("SLACK_MODE=http needs SLACK_SIGNING_SECRET")
        return self

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token.get_secret_value())

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token.get_secret_value())


class SettingsError(Exception):
    """Settings that cannot work; the message is one line naming the setting."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(f"bad settings: {_with_env_names(exc)}") from None


def _with_env_names(exc: ValidationError) -> str:
    """Pydantic's field names upper-cased, as they are written in the environment."""
    text = describe_errors(exc)
    for name in Settings.model_fields:
        text = text.replace(f"{name}:", f"{name.upper()}:")
    return text
