"""The daily digest's posting: fetch the configured feeds, then post each enabled channel's new papers once a day.

Apart from the cog (bot/cogs/digest.py, the commands and the schedule) so tests and the CLI can drive it.

Exactly once: `DigestBook.claim` records the decision before anything is sent; each
part is recorded as "sending" before it goes out and as "sent" (with its message id)
as soon as Discord returns it, and is sent with a nonce derived from (channel, day,
part) so a retry is deduplicated by Discord. A part left "sending" by a crash is looked
for in the channel among the messages after its attempt, however many came since.
A part Discord refuses for good is recorded and skipped; claimed digests are finished
whatever their day.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.delivery import nonce_for, permanent, send_once, transient
from bot.render import digest_marker, digest_messages, fit_embed
from corpus.digests import DigestBook, LedgerEntry, PartRecord, Subscription
from corpus.feeds import FeedSource, fetch_all
from corpus.store import StoreError
from retrieval.answers.digest import Digest, build_digest, select_papers

if TYPE_CHECKING:
    from bot.main import PaperBot

log = logging.getLogger("bot.cogs.digest")  # the name its log lines had when this was part of the cog
NONE = discord.AllowedMentions.none()
UTC = dt.UTC
MAX_ATTEMPTS = 8  # passes that try one part (each with discord.py's and our retries) before it is given up
HISTORY_BOUND = 500  # messages read after a part's attempt when looking for it after a crash
CLOCK_MARGIN = 120.0  # seconds of clock difference allowed between this machine and Discord


class DigestPoster:
    """Decides and posts digests. Separate from the cog so tests and the CLI can drive it."""

    def __init__(self, bot: PaperBot, book: DigestBook | None = None):
        self.bot = bot
        self.book: DigestBook = book  # type: ignore[assignment]  # opened off the event loop in Digests.cog_load
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
        """Finish every claimed digest (whatever its day), then post each channel's digest due today.

        Returns the number of messages sent.
        """
        now = now or dt.datetime.now(UTC)
        async with self._lock:
            subscriptions = await asyncio.to_thread(self.book.channels)
            enabled = {s.channel_id for s in subscriptions}
            posted = 0
            # a bot killed mid-digest and restarted on a later day still owes the remaining parts
            for entry in await asyncio.to_thread(self.book.unfinished):
                if entry.channel_id in enabled:
                    posted += await self._guarded(self.send_parts(entry, decided_now=False), entry.channel_id)
            due = await asyncio.to_thread(self._due, subscriptions, now)
            if not due:
                return posted
            if fetch:
                try:
                    await self.fetch()
                except Exception:  # a feed outage must not cost anyone their digest
                    log.exception("fetching feeds failed; posting what the store has")
            for subscription in due:
                posted += await self._guarded(self.post(subscription, now.date()), subscription.channel_id)
            return posted

    def _due(self, subscriptions: list[Subscription], now: dt.datetime) -> list[Subscription]:
        at = now.time().replace(tzinfo=None)
        return [s for s in subscriptions if s.post_time <= at and self.book.entry(s.channel_id, now.date()) is None]

    async def _guarded(self, posting, channel_id: int) -> int:
        """One channel's digest failing (Discord down, store busy) must not stop the others; it resumes next pass."""
        try:
            return await posting
        except Exception as exc:
            if transient(exc) or isinstance(exc, StoreError):
                log.warning("digest for channel %s interrupted (%s); it resumes on the next pass", channel_id, exc)
            else:
                log.exception("digest for channel %s failed; it resumes on the next pass", channel_id)
            return 0

    async def post(self, subscription: Subscription, day: dt.date) -> int:
        """Post (or finish posting) one channel's digest for `day`; returns the number of messages sent."""
        entry, decided_now = await asyncio.to_thread(self._claim, subscription, day)
        if entry.done:
            return 0
        return await self.send_parts(entry, decided_now)

    async def send_parts(self, entry: LedgerEntry, decided_now: bool) -> int:
        """Send the entry's parts not yet handled, in order; returns how many messages were sent."""
        try:
            channel = self.bot.get_channel(entry.channel_id) or await self.bot.fetch_channel(entry.channel_id)
        except (discord.NotFound, discord.Forbidden) as exc:
            # the channel is gone or closed to the bot: give the parts up rather than retry them every day
            reason = f"channel unavailable: {exc.status} {exc.text}"
            for part in range(entry.parts_posted + 1, entry.parts_total + 1):
                await asyncio.to_thread(self.book.part_failed, entry.channel_id, entry.day, part, reason)
            log.error("digest %s for channel %s given up: %s", entry.day, entry.channel_id, reason)
            return 0
        embeds = digest_messages(Digest.model_validate_json(entry.content))
        sent = 0
        for part in range(entry.parts_posted + 1, entry.parts_total + 1):
            sent += await self._send_part(channel, entry, part, embeds, decided_now)
        return sent

    async def _send_part(self, channel, entry: LedgerEntry, part: int, embeds, decided_now: bool) -> int:
        book, channel_id, day = self.book, entry.channel_id, entry.day
        marker = digest_marker(day, part, entry.parts_total)
        if part > len(embeds):  # rendering changed since the digest was claimed
            await asyncio.to_thread(book.part_failed, channel_id, day, part, "no such part in today's rendering")
            log.error("digest part %s for channel %s no longer renders; skipped", marker, channel_id)
            return 0
        if not decided_now:
            since = self._maybe_sent_since(entry, part, await asyncio.to_thread(book.part, channel_id, day, part))
            if since is not None:
                found = await self._find_in_channel(channel, marker, since)
                if found is not None:
                    await asyncio.to_thread(book.part_sent, channel_id, day, part, found.id)
                    log.info("digest part %s already in channel %s; not sending again", marker, channel_id)
                    return 0
        record = await asyncio.to_thread(book.start_part, channel_id, day, part)
        if record.attempts > MAX_ATTEMPTS:
            await asyncio.to_thread(book.part_failed, channel_id, day, part, f"gave up after {MAX_ATTEMPTS} attempts")
            log.error("digest part %s for channel %s given up after %d attempts", marker, channel_id, MAX_ATTEMPTS)
            return 0
        embed = fit_embed(embeds[part - 1])
        nonce = nonce_for("digest", channel_id, day.isoformat(), part)
        try:
            message = await send_once(
                lambda: channel.send(embed=embed, allowed_mentions=NONE, nonce=nonce), f"digest part {marker}"
            )
        except discord.HTTPException as exc:
            if not permanent(exc):
                raise
            await asyncio.to_thread(book.part_failed, channel_id, day, part, f"{exc.status} {exc.text}")
            log.error(
                "Discord refused digest part %s in channel %s (%s %s); recorded, going on with the next part",
                marker,
                channel_id,
                exc.status,
                exc.text[:200],
            )
            return 0
        await asyncio.to_thread(book.part_sent, channel_id, day, part, message.id)
        return 1

    @staticmethod
    def _maybe_sent_since(entry: LedgerEntry, part: int, record: PartRecord | None) -> float | None:
        """When the part may have reached Discord unrecorded (a crash between sending and recording), else None."""
        if record is not None:
            return record.attempted_at if record.status == "sending" and record.attempted_at else None
        if entry.claimed_at is None and part == entry.parts_posted + 1:
            # claimed by a paperbot that kept no part records: it posted on the digest's day at the earliest
            return dt.datetime.combine(entry.day, dt.time(0, 0), UTC).timestamp() + CLOCK_MARGIN
        return None

    async def _find_in_channel(self, channel, marker: str, since: float) -> discord.Message | None:
        """The bot's message with this footer marker posted after `since` (oldest first, at most HISTORY_BOUND)."""
        after = dt.datetime.fromtimestamp(since - CLOCK_MARGIN, UTC)
        try:
            async for message in channel.history(limit=HISTORY_BOUND, after=after, oldest_first=True):
                if message.author.id == self.bot.user.id and any(
                    e.footer and e.footer.text and e.footer.text.startswith(marker) for e in message.embeds
                ):
                    return message
        except (TimeoutError, discord.HTTPException, aiohttp.ClientError) as exc:
            log.warning(
                "cannot read channel %s history to check for digest part %s (%s); sending it",
                getattr(channel, "id", "?"),
                marker,
                exc,
            )
        return None
