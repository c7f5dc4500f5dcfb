"""Bot settings from the environment (or a .env file), validated by pydantic-settings.

The token is a SecretStr: it prints as '**********' in logs, reprs and errors.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Discord bot tokens: base64 user id . timestamp . HMAC, each url-safe base64.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{18,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$")
# arXiv feeds: a category listing (cs.LG, hep-th, astro-ph.CO, cs.LG+cs.AI), an API search, or a URL.
CATEGORY_SHAPE = re.compile(r"^[a-z][a-z-]*(\.[A-Za-z][A-Za-z-]*)?(\+[a-z][a-z-]*(\.[A-Za-z][A-Za-z-]*)?)*$")
FEED_FORMS = "a category (cs.LG, hep-th, cs.LG+cs.AI), search:QUERY (search:abs:DeepMind) or an http(s):// URL"


def check_feed(spec: str) -> str:
    """The feed spec, stripped, or ValueError naming the accepted forms ("not a feed!!" is none of them)."""
    text = spec.strip()
    if CATEGORY_SHAPE.match(text):
        return text
    if text.startswith("search:") and text.removeprefix("search:").strip():
        return text
    if re.match(r"^https?://[^\s/]+\S*$", text):
        return text
    shown = text if len(text) <= 80 else text[:80] + "…"
    raise ValueError(f"{shown!r} is not a feed: expected {FEED_FORMS}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    discord_token: SecretStr | None = Field(default=None, validation_alias="DISCORD_TOKEN")
    discord_token_file: Path | None = Field(default=None, validation_alias="DISCORD_TOKEN_FILE")
    dev_guild_id: int | None = Field(default=None, validation_alias="PAPERBOT_DEV_GUILD")
    home: Path | None = Field(default=None, validation_alias="PAPERBOT_HOME")
    log_level: str = Field(default="INFO", validation_alias="PAPERBOT_LOG_LEVEL")
    shard_count: int | None = Field(default=None, ge=1, validation_alias="SHARD_COUNT")
    shard_ids: Annotated[list[int] | None, NoDecode] = Field(default=None, validation_alias="SHARD_IDS")
    feeds: Annotated[list[str], NoDecode] = Field(default_factory=list, validation_alias="PAPERBOT_FEEDS")
    digest_time: dt.time = Field(default=dt.time(8, 0), validation_alias="PAPERBOT_DIGEST_TIME")
    digest_runner: bool = Field(default=True, validation_alias="PAPERBOT_DIGEST_RUNNER")
    fetch_delay: float = Field(default=3.0, ge=0, validation_alias="PAPERBOT_FETCH_DELAY")
    log_format: str = Field(default="plain", pattern="^(plain|json)$", validation_alias="PAPERBOT_LOG_FORMAT")
    semantic: bool = Field(default=True, validation_alias="PAPERBOT_SEMANTIC")
    embed_model: str | None = Field(default=None, validation_alias="PAPERBOT_EMBED_MODEL")
    # 👍/👎 on answers; off: no vote or follow-up buttons, and answers are not kept (so no follow-up context)
    feedback: bool = Field(default=True, validation_alias="PAPERBOT_FEEDBACK")
    # arXiv's base URLs, handed to corpus.feeds by load_settings (tests point them at 127.0.0.1)
    arxiv_api_url: str | None = Field(default=None, validation_alias="PAPERBOT_ARXIV_API_URL")
    arxiv_rss_url: str | None = Field(default=None, validation_alias="PAPERBOT_ARXIV_RSS_URL")
    arxiv_oai_url: str | None = Field(default=None, validation_alias="PAPERBOT_ARXIV_OAI_URL")

    @field_validator("arxiv_api_url", "arxiv_rss_url", "arxiv_oai_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("not an http(s) URL: it must start with http:// or https://")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @field_validator("feeds", "shard_ids", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """`cs.LG, cs.CL` or `0,1` as well as JSON lists."""
        if isinstance(value, str):
            text = value.strip()
            if not text.startswith("["):
                return [p.strip() for p in text.split(",") if p.strip()]
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                raise ValueError(
                    'expected comma-separated values (cs.LG,search:abs:DeepMind or 0,1) or a JSON list (["cs.LG"]);'
                    f" this starts with [ but is not valid JSON ({text[:40]!r})"
                ) from None
        return value

    @field_validator("feeds")
    @classmethod
    def _feeds(cls, value: list[str]) -> list[str]:
        return [check_feed(spec) for spec in value]

    def token(self) -> str:
        """The token from DISCORD_TOKEN or DISCORD_TOKEN_FILE; ValueError (never showing it) if absent or malformed."""
        secret = self.discord_token.get_secret_value().strip() if self.discord_token else ""
        if not secret and self.discord_token_file:
            try:
                secret = self.discord_token_file.read_text().strip()
            except OSError as exc:
                raise ValueError(
                    f"DISCORD_TOKEN_FILE {self.discord_token_file}: cannot read ({exc.strerror})"
                ) from None
        if not secret:
            raise ValueError(
                "DISCORD_TOKEN is not set: put the bot token from Discord's developer portal in the environment or in DISCORD_TOKEN_FILE"
            )
        if not TOKEN_SHAPE.match(secret):
            raise ValueError(
                "DISCORD_TOKEN is malformed: expected three dot-separated parts as the developer portal shows it"
            )
        return secret


def load_settings() -> Settings:
    """Settings, or ValueError with one part per bad setting, named by its environment variable.

    Values are not shown (a secret could be among them); pydantic's "Value error, " prefix is dropped.
    """
    try:
        settings = Settings()
    except ValidationError as exc:
        names = {name: str(field.validation_alias) for name, field in Settings.model_fields.items()}
        parts = []
        for error in exc.errors():
            loc = [str(p) for p in error["loc"]]
            name = names.get(loc[0], loc[0]) if loc else "settings"
            where = name + "".join(f"[{p}]" for p in loc[1:])
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "bool_parsing":
                message = "expected true or false (or 1/0, yes/no, on/off)"
            parts.append(f"{where}: {message}")
        raise ValueError("; ".join(parts)) from None
    from corpus.feeds import configure_urls

    # arXiv endpoints from the environment or .env alike (the fetch and harvest code reads them there)
    configure_urls(settings.arxiv_api_url, settings.arxiv_rss_url, settings.arxiv_oai_url)
    return settings


def semantic_setting() -> tuple[bool, str | None]:
    """(PAPERBOT_SEMANTIC, PAPERBOT_EMBED_MODEL), validated like every other setting (ValueError naming it).

    The CLI checks every setting before any command runs and the bot before it starts, so a bad
    value (PAPERBOT_SEMANTIC=maybe) is refused the same way everywhere, never taken as "on" here.
    """
    settings = load_settings()
    return settings.semantic, settings.embed_model
