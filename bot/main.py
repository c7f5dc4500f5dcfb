"""The Discord bot: a thin `commands.Bot` subclass, its global error handler and `paperbot serve`.

Cogs live in bot/cogs and are loaded in `setup_hook`. Slash commands are synced only
when their payload changed since the last sync (a hash kept in the home), or on
`paperbot sync`, because Discord rate-limits syncing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import signal
import sqlite3
import sys
import time
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands

from bot.engine import Engine
from bot.settings import Settings
from corpus.digests import DigestBusy

log = logging.getLogger("paperbot")
COGS = ("bot.cogs.papers", "bot.cogs.conversation", "bot.cogs.digest")
SYNC_HASH_FILE = "command-sync.json"
BUSY_REPLY = "The database is busy, try again in a moment."


def is_busy(exc: BaseException) -> bool:
    """Another process holds the store's write lock: worth a "try again", not a traceback."""
    if isinstance(exc, app_commands.CommandInvokeError):
        exc = exc.original
    # StoreBusy: what corpus.store raises when its own short busy timeout runs out
    if isinstance(exc, DigestBusy) or type(exc).__name__ == "StoreBusy":
        return True
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


class PaperTree(app_commands.CommandTree):
    """One error handler for every slash command: a short ephemeral line for the user, the traceback for the log."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.CommandOnCooldown):
            message = f"Slow down a little: try again in {error.retry_after:.0f} s."
        elif isinstance(error, app_commands.MissingPermissions):
            message = "You need the Manage Server permission for this."
        elif isinstance(error, app_commands.CheckFailure):
            message = "You can't use this command here."
        elif is_busy(error):
            log.warning("command %s: the store is busy", interaction.command.name if interaction.command else "?")
            message = BUSY_REPLY
        else:
            log.error("command %s failed", interaction.command.name if interaction.command else "?", exc_info=error)
            message = "Something went wrong on my side; the error is logged. Please try again."
        try:
            if interaction.response.is_done():
                await interaction.followup.send(
                    message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
                )
            else:
                await interaction.response.send_message(
                    message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
                )
        except discord.HTTPException:
            log.warning("could not tell the user about an error")


def intents() -> discord.Intents:
    """No privileged intents: slash commands need none; mentions and DMs carry their content without Message Content."""
    chosen = discord.Intents.none()
    chosen.guilds = True  # channel and guild cache for replies
    chosen.guild_messages = True  # to see messages that mention the bot
    chosen.dm_messages = True  # to answer DMs
    return chosen


class PaperBot(commands.Bot):
    """The bot: settings, the corpus engine, cogs loaded in setup_hook, commands synced only when changed."""

    def __init__(
        self, settings: Settings, home: Path, engine: Engine | None = None, sync: str = "auto", **shard_options
    ):
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            help_command=None,
            tree_cls=PaperTree,
            allowed_mentions=discord.AllowedMentions.none(),
            **shard_options,
        )
        self.settings = settings
        self.home = home
        self.engine: Engine = engine  # type: ignore[assignment]  # opened in setup_hook when not given
        self.sync_mode = sync

    async def setup_hook(self) -> None:
        if self.engine is None:
            self.engine = await asyncio.to_thread(Engine.open, self.home)
        log.info("corpus: %d papers; index loaded in %.2f s", len(self.engine.index), self.engine.load_seconds)
        for cog in COGS:
            await self.load_extension(cog)
        await self.sync_commands()

    def command_payload(self) -> list[dict]:
        return [command.to_dict(self.tree) for command in self.tree.get_commands()]

    async def sync_commands(self) -> bool:
        """Sync when the payload changed (or when forced); returns whether it synced."""
        guild = discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None
        if guild:
            self.tree.copy_global_to(guild=guild)
        payload = json.dumps(self.command_payload(), sort_keys=True)
        digest = hashlib.sha256(f"{guild.id if guild else 'global'}:{payload}".encode()).hexdigest()
        record = self.home / SYNC_HASH_FILE
        previous = json.loads(record.read_text()).get("hash") if record.exists() else None
        if self.sync_mode == "never" or (self.sync_mode == "auto" and previous == digest):
            log.info("slash commands unchanged; not syncing")
            return False
        synced = await self.tree.sync(guild=guild)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"hash": digest, "synced_at": time.time()}))
        log.info("synced %d slash commands %s", len(synced), f"to guild {guild.id}" if guild else "globally")
        return True

    async def on_ready(self) -> None:
        log.info(
            "connected as %s (id %s) to %d guilds", self.user, self.user.id if self.user else "?", len(self.guilds)
        )

    async def on_error(self, event_method: str, /, *args: object, **kwargs: object) -> None:
        log.exception("unhandled error in %s", event_method)

    async def on_command_error(self, context: commands.Context, exception: commands.CommandError, /) -> None:
        """Prefix commands are only mentions here: a mention that is a question is not a missing command.

        discord.py's default handler logs every CommandNotFound as an ERROR with a traceback, and
        every mention ("@paperbot how do ...") is parsed as the command "how". The Papers cog answers
        mentions; anything else that goes wrong in a prefix command is still logged.
        """
        if isinstance(exception, commands.CommandNotFound):
            return
        log.error("prefix command %s failed", context.command, exc_info=exception)

    async def close(self) -> None:
        await super().close()
        if self.engine is not None:
            self.engine.close()


class ShardedPaperBot(commands.AutoShardedBot, PaperBot):
    """The same bot over several gateway shards (SHARD_COUNT / SHARD_IDS), so processes can split the load."""


def make_bot(settings: Settings, home: Path, engine: Engine | None = None, sync: str = "auto") -> PaperBot:
    """`PaperBot`, or `ShardedPaperBot` when the shard settings ask for it."""
    if not (settings.shard_count or settings.shard_ids):
        return PaperBot(settings, home, engine, sync)
    options: dict = {}
    if settings.shard_count:
        options["shard_count"] = settings.shard_count
    if settings.shard_ids:
        options["shard_ids"] = settings.shard_ids
    return ShardedPaperBot(settings, home, engine, sync, **options)


class JsonLines(logging.Formatter):
    """One JSON object per line: for log shippers. Messages never contain the token (it is a SecretStr)."""

    def format(self, record: logging.LogRecord) -> str:
        event = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            event["exc"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False)


class _Stderr(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes: a handler that kept the stream it was made with
    wrote into a closed one after a caller (a test, an embedding program) had swapped stderr back."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(level: str, fmt: str = "plain") -> None:
    handler = _Stderr()
    if fmt == "json":
        handler.setFormatter(JsonLines())
    else:  # one event per line; tracebacks follow on their own lines
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


async def run_bot(bot: PaperBot, token: str) -> None:
    """Start the bot and close it cleanly on SIGTERM or Ctrl-C."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    async with bot:
        runner = asyncio.create_task(bot.start(token))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("stopping")
            await bot.close()
        runner.cancel()
        try:
            await runner
        except (asyncio.CancelledError, Exception) as exc:  # noqa: BLE001 - reported below
            if not isinstance(exc, asyncio.CancelledError):
                raise


def serve(home: Path, settings: Settings, sync: str = "auto") -> int:
    """`paperbot serve`: run until SIGTERM or Ctrl-C."""
    return _with_token(settings, lambda token: run_bot(make_bot(settings, home, sync=sync), token))


def sync_once(home: Path, settings: Settings) -> int:
    """`paperbot sync`: log in, push the command tree, log out."""

    async def run(token: str) -> None:
        async with make_bot(settings, home, sync="force") as bot:
            await bot.login(token)  # runs setup_hook, which syncs

    return _with_token(settings, run)


def _with_token(settings: Settings, main) -> int:
    """Check the token, run `main(token)`; a bad or refused token is one line and exit status 2."""
    configure_logging(settings.log_level, settings.log_format)
    try:
        token = settings.token()
    except ValueError as exc:
        print(f"paperbot: {exc}")
        return 2
    asyncio.run(main(token))  # LoginFailure and connection errors: one line in bot/cli/service.py
    return 0
