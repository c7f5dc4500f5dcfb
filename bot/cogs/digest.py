"""The daily digest cog: `/digest` commands set each channel's digest up, and loops post them on schedule.

The loops wake at every chosen time of day (and every few minutes, to finish an interrupted digest);
the posting itself, exactly once, is `bot.digest_poster.DigestPoster`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.digest_poster import DigestPoster
from bot.render import CONTENT_MAX, _join_within, digest_messages, fit_content, fit_embed, safe
from corpus.digests import BUSY_TIMEOUT, DigestBook

if TYPE_CHECKING:
    from bot.main import PaperBot

NONE = discord.AllowedMentions.none()
UTC = dt.UTC
POSTER_BUSY_TIMEOUT = 30.0  # the background poster may wait for another process's write
RESUME_MINUTES = 15  # an interrupted digest is tried again this often, not only at tomorrow's time
ITEM_MAX = 100  # characters in one subscription keyword or author


def parse_time(text: str) -> dt.time:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*(?:utc)?\s*", text, re.IGNORECASE)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError("give the time as HH:MM in UTC, e.g. 08:00")
    return dt.time(int(match.group(1)), int(match.group(2)))


def split_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()][:20]


def listing(items: list[str], limit: int = 700) -> str:
    """Keywords or authors as the user will read them: escaped (no pings, no markdown) and bounded."""
    return safe(", ".join(items), limit) if items else "—"


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class DigestCommands(app_commands.Group, name="digest", description="The daily digest of new papers in this channel"):
    """Every store call runs in a worker thread after the interaction is deferred: a locked store
    gives "busy, try again" (PaperTree.on_error) within about two seconds, never a frozen bot."""

    def __init__(self, cog: Digests):
        super().__init__()
        self.cog = cog

    @property
    def book(self) -> DigestBook:
        return self.cog.book

    @app_commands.command(
        name="here", description="Post the daily digest in this channel (UTC time, default from settings)"
    )
    @app_commands.describe(time="HH:MM in UTC")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def here(self, interaction: discord.Interaction, time: str | None = None) -> None:
        try:
            post_time = parse_time(time) if time else self.cog.bot.settings.digest_time
        except ValueError as exc:
            await interaction.response.send_message(str(exc), ephemeral=True, allowed_mentions=NONE)
            return
        await interaction.response.defer(thinking=True)
        await asyncio.to_thread(self.book.enable, interaction.channel_id, interaction.guild_id, post_time)
        self.cog.reschedule(post_time)
        await interaction.followup.send(
            f"Daily digest on in this channel at {post_time.strftime('%H:%M')} UTC.", allowed_mentions=NONE
        )

    @app_commands.command(name="off", description="Stop the digest in this channel")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def off(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        done = await asyncio.to_thread(self.book.disable, interaction.channel_id)
        await interaction.followup.send(
            "Digest off in this channel." if done else "There was no digest here.", allowed_mentions=NONE
        )

    @app_commands.command(
        name="subscribe", description="Only papers matching these keywords or authors (comma-separated)"
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def subscribe(
        self, interaction: discord.Interaction, keywords: str | None = None, authors: str | None = None
    ) -> None:
        words, names = split_list(keywords), split_list(authors)
        if not words and not names:
            await interaction.response.send_message(
                "Give keywords, authors or both (comma-separated).", ephemeral=True, allowed_mentions=NONE
            )
            return
        if any(len(item) > ITEM_MAX for item in words + names):
            await interaction.response.send_message(
                f"Each keyword or author can be at most {ITEM_MAX} characters; separate them with commas.",
                ephemeral=True,
                allowed_mentions=NONE,
            )
            return
        await interaction.response.defer(thinking=True)
        if await asyncio.to_thread(self.book.subscribe, interaction.channel_id, words, names) is None:
            await interaction.followup.send("Turn the digest on first with `/digest here`.", allowed_mentions=NONE)
            return
        await interaction.followup.send(
            fit_content(f"Subscribed: keywords {listing(words)}; authors {listing(names)}."), allowed_mentions=NONE
        )

    @app_commands.command(name="unsubscribe", description="All new papers again, newest first")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def unsubscribe(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        changed = await asyncio.to_thread(self.book.subscribe, interaction.channel_id, [], [])
        await interaction.followup.send(
            "Subscriptions cleared: the digest lists every new paper." if changed else "There is no digest here.",
            allowed_mentions=NONE,
        )

    @app_commands.command(name="list", description="Digests in this server")
    async def list(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        rows = await asyncio.to_thread(self.book.channels, interaction.guild_id)
        if not rows:
            text = "No digests in this server. `/digest here` starts one."
        else:
            lines = [
                f"<#{s.channel_id}> at {s.post_time.strftime('%H:%M')} UTC"
                + (f" · keywords: {listing(s.keywords, 300)}" if s.keywords else "")
                + (f" · authors: {listing(s.authors, 300)}" if s.authors else "")
                for s in rows
            ]
            text = _join_within(lines, CONTENT_MAX)
        await interaction.followup.send(fit_content(text), ephemeral=True, allowed_mentions=NONE)

    @app_commands.command(name="preview", description="What the next digest here would hold (only you see it)")
    async def preview(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        subscription = await asyncio.to_thread(self.book.get, interaction.channel_id)
        if subscription is None:
            await interaction.followup.send("No digest in this channel.", ephemeral=True, allowed_mentions=NONE)
            return
        store = self.cog.bot.engine.store
        papers = [p for _, p in await asyncio.to_thread(store.added_after, subscription.last_row)]
        digest = await asyncio.to_thread(self.cog.poster.compose, subscription, papers, dt.datetime.now(UTC).date())
        if not digest.papers:
            await interaction.followup.send("Nothing new for this channel yet.", ephemeral=True, allowed_mentions=NONE)
            return
        embeds = [fit_embed(e) for e in digest_messages(digest)[:1]]
        await interaction.followup.send(embeds=embeds, ephemeral=True, allowed_mentions=NONE)


class Digests(commands.Cog):
    def __init__(self, bot: PaperBot):
        self.bot = bot
        self.book: DigestBook = None  # type: ignore[assignment]  # for commands; opened in cog_load
        self.poster = DigestPoster(bot)
        self.commands = DigestCommands(self)

    async def cog_load(self) -> None:
        store = self.bot.engine.store
        # commands give up quickly on a locked store; the poster, in the background, may wait longer
        self.book = await asyncio.to_thread(DigestBook, store, BUSY_TIMEOUT)
        self.poster.book = await asyncio.to_thread(DigestBook, store, POSTER_BUSY_TIMEOUT)
        self.bot.tree.add_command(self.commands)
        if self.bot.settings.digest_runner:
            self.daily.change_interval(time=await asyncio.to_thread(self.times))
            self.daily.start()
            self.resume.start()

    async def cog_unload(self) -> None:
        self.daily.cancel()
        self.resume.cancel()
        self.bot.tree.remove_command(self.commands.name)
        for book in (self.book, self.poster.book):
            if book is not None:
                book.close()

    def times(self) -> list[dt.time]:
        """The times of day the loop wakes: the default plus every channel's (reads the store: call in a thread)."""
        chosen = {self.bot.settings.digest_time} | {s.post_time for s in self.poster.book.channels()}
        return sorted(t.replace(tzinfo=UTC) for t in chosen)

    def reschedule(self, post_time: dt.time) -> None:
        """Also wake at `post_time` (a channel just chose it); no store access, so safe on the event loop."""
        if self.bot.settings.digest_runner:
            chosen = {t.replace(tzinfo=UTC) for t in self.daily.time} | {post_time.replace(tzinfo=UTC)}
            self.daily.change_interval(time=sorted(chosen))

    @tasks.loop(time=dt.time(8, 0, tzinfo=UTC))
    async def daily(self) -> None:
        await self.poster.run_due()

    @daily.before_loop
    async def catch_up(self) -> None:
        """After downtime, post what was missed before waiting for the next scheduled time."""
        await self.bot.wait_until_ready()
        await self.poster.run_due()

    @tasks.loop(minutes=RESUME_MINUTES)
    async def resume(self) -> None:
        """A digest interrupted by a Discord outage or a busy store goes on within minutes (cheap when none is)."""
        await self.poster.run_due()

    @resume.before_loop
    async def first_resume(self) -> None:
        await self.bot.wait_until_ready()
        await asyncio.sleep(RESUME_MINUTES * 60)  # the daily loop's catch-up covers start-up


async def setup(bot: PaperBot) -> None:
    await bot.add_cog(Digests(bot))
