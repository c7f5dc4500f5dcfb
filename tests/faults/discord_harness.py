"""Shared by the tests/faults/test_discord_* files: the real bot on the fake Discord, and what it logged.

Kept in its own module (not a conftest) so it cannot collide with other fault-injection helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from bot.main import PaperBot, make_bot
from bot.settings import Settings
from corpus.models import Paper
from tests.bot.fake_discord import FakeDiscord

TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC


class Records(logging.Handler):
    """Every log record at or above `level`, from every logger (discord.py's included)."""

    def __init__(self, level: int = logging.WARNING):
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at(self, level: int) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= level]

    def __enter__(self) -> Records:
        root = logging.getLogger()
        self._saved = root.level
        root.setLevel(min(root.level or logging.WARNING, self.level))
        root.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)
        logging.getLogger().setLevel(self._saved)


@contextlib.asynccontextmanager
async def bot_on_fake(home: Path) -> AsyncIterator[tuple[FakeDiscord, PaperBot]]:
    """The real discord.py client (bot.start) connected to a fresh fake Discord; closed afterwards."""
    fake = FakeDiscord()
    await fake.start()
    bot = make_bot(Settings(_env_file=None, DISCORD_TOKEN=TOKEN, PAPERBOT_DIGEST_RUNNER=False), home)
    # discord.py's `guild_ready_timeout` option (default 2 s) waits for more guilds after the fake's only
    # one; the bot does not expose the option, so the test sets it on the client's state
    bot._connection.guild_ready_timeout = 0.05
    runner = asyncio.create_task(bot.start(TOKEN))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 30)
        yield fake, bot
    finally:
        await bot.close()
        await asyncio.wait_for(runner, 10)
        await fake.stop()


def many_papers(prefix: str, day: dt.date, count: int) -> list[Paper]:
    """`count` distinct new papers published on `day` (8 fit one digest message)."""
    return [
        Paper(
            id=f"{prefix}.{n:05d}",
            title=f"Study number {n} of radar nowcasting",
            abstract=f"We study radar nowcasting, variant {n}. It works well on benchmark {n}.",
            authors=[f"Author {n}"],
            published=day,
        )
        for n in range(1, count + 1)
    ]


def footers(messages: list[dict]) -> list[str]:
    return [m["embeds"][0]["footer"]["text"] for m in messages]
