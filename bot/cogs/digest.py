"""The daily digest: fetch the configured feeds, then post each enabled channel's new papers once a day.

Exactly once: `DigestBook.claim` records the decision before anything is sent;
each message part is marked after it is sent; a resumed digest first looks in the
channel for the part's footer marker, so a crash between sending and marking does
not send it twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.render import digest_marker, digest_messages
from corpus.digests import DigestBook, Subscription
from corpus.feeds import FeedSource, fetch_all
from retrieval.digest import Digest, build_digest, select_papers

if TYPE_CHECKING:
    from bot.main import PaperBot

log = logging.getLogger(__name__)
NONE = discord.AllowedMentions.none()
UTC = dt.UTC


def parse_time(text: str) -> dt.time:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*(?:utc)?\s*", text, re.IGNORECASE)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError("give the time as HH:MM in UTC, e.g. 08:00")
    return dt.time(int(match.group(1)), int(match.group(2)))


def split_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()][:20]


class DigestPoster:
    """Decides and posts digests. Separate from the cog so tests and the CLI can drive it."""

    def __init__(self, bot: PaperBot):
        self.bot = bot
        self.book = DigestBook(bot.engine.store)
        self._lock = asyncio.Lock()

    def compose(self, subscription: Subscription, papers, day: dt.date) -> Digest:
        engine = self.bot.engine
        chosen = select_papers(papers, engine.index, subscription.keywords, subscription.authors)
        return build_digest(day, chosen, engine.index)

    def _claim(self, subscription: Subscription, day: dt.date):
        def choose(current: Subscription, papers):
            digest = self.compose(current, papers, day)
            parts = len(digest_messages(digest)) if digest.papers else 0
            return digest.model_dump_json(), parts

        with self.bot.engine.lock:
            return self.book.claim(subscription.channel_id, day, choose)

    async def fetch(self) -> int:
        sources = [FeedSource(spec=spec) for spec in self.bot.settings.feeds]
        if not sources:
            return 0
        result = await fetch_all(sources, delay=self.bot.settings.fetch_delay)
        added = await asyncio.to_thread(self.bot.engine.add_papers, result.papers)
        log.info(
            "fetched %d papers from %d feeds: %d new, %d feeds failed",
            len(result.papers),
            len(sources),
            added,
            len(result.errors),
        )
        return added

    async def run_due(self, now: dt.datetime | None = None, fetch: bool = True) -> int:
        """Post every enabled channel's digest whose time has come today and that is not yet posted."""
        now = now or dt.datetime.now(UTC)
        async with self._lock:
            due = [
                s
                for s in self.book.channels()
                if s.post_time <= now.time().replace(tzinfo=None) and not self._posted(s.channel_id, now.date())
            ]
            if not due:
                return 0
            if fetch:
                try:
                    await self.fetch()
                except Exception:  # a feed outage must not cost anyone their digest
                    log.exception("fetching feeds failed; posting what the store has")
            posted = 0
            for subscription in due:
                try:
                    posted += await self.post(subscription, now.date())
                except Exception:
                    log.exception("digest for channel %s failed; will retry", subscription.channel_id)
            return posted

    def _posted(self, channel_id: int, day: dt.date) -> bool:
        entry = self.book.entry(channel_id, day)
        return entry is not None and entry.done

    async def post(self, subscription: Subscription, day: dt.date) -> int:
        """Post (or finish posting) one channel's digest for `day`; returns the number of messages sent."""
        entry, decided_now = await asyncio.to_thread(self._claim, subscription, day)
        if entry.done:
            return 0
        channel = self.bot.get_channel(subscription.channel_id) or await self.bot.fetch_channel(subscription.channel_id)
        embeds = digest_messages(Digest.model_validate_json(entry.content))
        sent = 0
        for part in range(entry.parts_posted + 1, entry.parts_total + 1):
            marker = digest_marker(day, part, entry.parts_total)
            if not decided_now and await self._already_in_channel(channel, marker):
                log.info("digest part %s already in channel %s; not sending again", marker, subscription.channel_id)
            else:
                await channel.send(embed=embeds[part - 1], allowed_mentions=NONE)
                sent += 1
            self.book.mark_part(subscription.channel_id, day, part)
        return sent

    async def _already_in_channel(self, channel, marker: str) -> bool:
        try:
            async for message in channel.history(limit=50):
                if message.author.id == self.bot.user.id and any(
                    e.footer and e.footer.text and e.footer.text.startswith(marker) for e in message.embeds
                ):
                    return True
        except discord.HTTPException:
            log.warning("cannot read channel history to check for a half-posted digest")
        return False


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class DigestCommands(app_commands.Group, name="digest", description="The daily digest of new papers in this channel"):
    def __init__(self, cog: Digests):
        super().__init__()
        self.cog = cog

    @property
    def book(self) -> DigestBook:
        return self.cog.poster.book

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
        self.book.enable(interaction.channel_id, interaction.guild_id, post_time)
        self.cog.reschedule()
        await interaction.response.send_message(
            f"Daily digest on in this channel at {post_time.strftime('%H:%M')} UTC.", allowed_mentions=NONE
        )

    @app_commands.command(name="off", description="Stop the digest in this channel")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def off(self, interaction: discord.Interaction) -> None:
        done = self.book.disable(interaction.channel_id)
        await interaction.response.send_message(
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
        if self.book.subscribe(interaction.channel_id, words, names) is None:
            await interaction.response.send_message(
                "Turn the digest on first with `/digest here`.", ephemeral=True, allowed_mentions=NONE
            )
            return
        await interaction.response.send_message(
            f"Subscribed: keywords {words or '—'}, authors {names or '—'}.", allowed_mentions=NONE
        )

    @app_commands.command(name="unsubscribe", description="All new papers again, newest first")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def unsubscribe(self, interaction: discord.Interaction) -> None:
        self.book.subscribe(interaction.channel_id, [], [])
        await interaction.response.send_message(
            "Subscriptions cleared: the digest lists every new paper.", allowed_mentions=NONE
        )

    @app_commands.command(name="list", description="Digests in this server")
    async def list(self, interaction: discord.Interaction) -> None:
        rows = self.book.channels(guild_id=interaction.guild_id)
        if not rows:
            text = "No digests in this server. `/digest here` starts one."
        else:
            text = "\n".join(
                f"<#{s.channel_id}> at {s.post_time.strftime('%H:%M')} UTC"
                + (f" · keywords: {', '.join(s.keywords)}" if s.keywords else "")
                + (f" · authors: {', '.join(s.authors)}" if s.authors else "")
                for s in rows
            )
        await interaction.response.send_message(text[:2000], ephemeral=True, allowed_mentions=NONE)

    @app_commands.command(name="preview", description="What the next digest here would hold (only you see it)")
    async def preview(self, interaction: discord.Interaction) -> None:
        subscription = self.book.get(interaction.channel_id)
        if subscription is None:
            await interaction.response.send_message("No digest in this channel.", ephemeral=True, allowed_mentions=NONE)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        store = self.cog.bot.engine.store
        papers = [p for _, p in await asyncio.to_thread(store.added_after, subscription.last_row)]
        digest = await asyncio.to_thread(self.cog.poster.compose, subscription, papers, dt.datetime.now(UTC).date())
        if not digest.papers:
            await interaction.followup.send("Nothing new for this channel yet.", ephemeral=True, allowed_mentions=NONE)
            return
        await interaction.followup.send(embeds=digest_messages(digest)[:1], ephemeral=True, allowed_mentions=NONE)


class Digests(commands.Cog):
    def __init__(self, bot: PaperBot):
        self.bot = bot
        self.poster = DigestPoster(bot)
        self.commands = DigestCommands(self)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.commands)
        if self.bot.settings.digest_runner:
            self.reschedule()
            self.daily.start()

    async def cog_unload(self) -> None:
        self.daily.cancel()
        self.bot.tree.remove_command(self.commands.name)

    def times(self) -> list[dt.time]:
        chosen = {self.bot.settings.digest_time} | {s.post_time for s in self.poster.book.channels()}
        return sorted(t.replace(tzinfo=UTC) for t in chosen)

    def reschedule(self) -> None:
        if self.bot.settings.digest_runner:
            self.daily.change_interval(time=self.times())

    @tasks.loop(time=dt.time(8, 0, tzinfo=UTC))
    async def daily(self) -> None:
        await self.poster.run_due()

    @daily.before_loop
    async def catch_up(self) -> None:
        """After downtime, post what was missed before waiting for the next scheduled time."""
        await self.bot.wait_until_ready()
        await self.poster.run_due()


async def setup(bot: PaperBot) -> None:
    await bot.add_cog(Digests(bot))
