"""The daily digest through the real client: posted once, filtered by subscriptions, exactly once across a crash."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from pathlib import Path

from bot.main import make_bot
from bot.render import digest_marker
from bot.settings import Settings
from corpus.digests import DigestBook
from corpus.home import open_store
from corpus.models import Paper
from tests.bot.fake_discord import CHANNEL2_ID, CHANNEL_ID, GUILD_ID, FakeDiscord

TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
UTC = dt.UTC
ROOT = Path(__file__).resolve().parents[2]


def new_papers(prefix: str, day: dt.date) -> list[Paper]:
    return [
        Paper(
            id=f"{prefix}.00001",
            title="Radar nowcasting with diffusion",
            abstract="We nowcast precipitation from radar with diffusion models.",
            authors=["Ada Lovelace"],
            published=day,
        ),
        Paper(
            id=f"{prefix}.00002",
            title="Sparse transformers for code",
            abstract="We train sparse transformers on source code.",
            authors=["Alan Turing"],
            published=day,
        ),
        Paper(
            id=f"{prefix}.00003",
            title="Protein folding at scale",
            abstract="We fold proteins with a large model.",
            authors=["Grace Hopper"],
            published=day,
        ),
    ]


def posted_to(fake: FakeDiscord, channel_id: int) -> list[dict]:
    return fake.posted(channel_id)


async def subscribed_scenario(home: Path) -> None:
    fake = FakeDiscord()
    await fake.start()
    bot = make_bot(Settings(_env_file=None, DISCORD_TOKEN=TOKEN, PAPERBOT_DIGEST_RUNNER=False), home)
    runner = asyncio.create_task(bot.start(TOKEN))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 30)
        token = await fake.send_command_group("digest", "here", {"time": "07:30"})
        reply = await fake.reply_for(token)
        assert "07:30 UTC" in reply["content"]

        day1 = dt.date(2026, 1, 2)
        await asyncio.to_thread(bot.engine.add_papers, new_papers("2601", day1))
        poster = bot.get_cog("Digests").poster
        assert await poster.run_due(now=dt.datetime(2026, 1, 2, 7, 0, tzinfo=UTC), fetch=False) == 0  # not yet 07:30
        assert await poster.run_due(now=dt.datetime(2026, 1, 2, 9, 0, tzinfo=UTC), fetch=False) == 1
        assert await poster.run_due(now=dt.datetime(2026, 1, 2, 23, 0, tzinfo=UTC), fetch=False) == 0  # once a day
        [message] = posted_to(fake, CHANNEL_ID)
        embed = message["embeds"][0]
        assert embed["footer"]["text"].startswith(digest_marker(day1, 1, 1))
        for title in ("Radar nowcasting with diffusion", "Sparse transformers for code", "Protein folding at scale"):
            assert title in embed["description"]
        assert "> " in embed["description"]  # each item has its TL;DR

        # a subscription changes what the next digest holds
        token = await fake.send_command_group(
            "digest", "subscribe", {"keywords": "radar, precipitation", "authors": "Hopper"}
        )
        assert "radar, precipitation" in (await fake.reply_for(token))["content"]
        day2 = dt.date(2026, 1, 3)
        await asyncio.to_thread(bot.engine.add_papers, new_papers("2601.1", day2))
        assert await poster.run_due(now=dt.datetime(2026, 1, 3, 8, 0, tzinfo=UTC), fetch=False) == 1
        second = posted_to(fake, CHANNEL_ID)[1]["embeds"][0]["description"]
        assert "Radar nowcasting" in second and "Protein folding" in second and "Sparse transformers" not in second
        assert second.index("Protein folding") < second.index("Radar nowcasting")  # author matches first, then BM25

        # preview is ephemeral; list shows the channel; without Manage Server, here is refused
        token = await fake.send_command_group("digest", "list", {})
        listing = await fake.reply_for(token)
        assert listing["flags"] & 64 and f"<#{CHANNEL_ID}>" in listing["content"]
        # preview: ephemeral, shows what the next digest would hold, posts nothing
        token = await fake.send_command_group("digest", "preview", {})
        empty = await fake.wait_for(
            lambda r: r.method == "POST" and r.path.startswith("/webhooks/") and token in r.path
        )
        assert "Nothing new" in empty.body["content"] and empty.body["flags"] & 64
        await asyncio.to_thread(bot.engine.add_papers, new_papers("2601.2", dt.date(2026, 1, 4))[:1])
        token = await fake.send_command_group("digest", "preview", {})
        shown = await fake.wait_for(
            lambda r: r.method == "POST" and r.path.startswith("/webhooks/") and token in r.path
        )
        assert shown.body["flags"] & 64 and "Radar nowcasting" in shown.body["embeds"][0]["description"]
        assert len(posted_to(fake, CHANNEL_ID)) == 2

        # off: the next day posts nothing
        token = await fake.send_command_group("digest", "off", {})
        assert "off" in (await fake.reply_for(token))["content"]
        assert await poster.run_due(now=dt.datetime(2026, 1, 4, 9, 0, tzinfo=UTC), fetch=False) == 0
        assert len(posted_to(fake, CHANNEL_ID)) == 2

        fake.member_permissions = 0
        token = await fake.send_command_group("digest", "here", {})
        assert "Manage Server" in (await fake.reply_for(token))["content"]
    finally:
        await bot.close()
        await asyncio.wait_for(runner, 10)
        await fake.stop()


def test_digest_posts_once_and_follows_subscriptions(tmp_path):
    asyncio.run(subscribed_scenario(tmp_path / "home"))


async def crash_scenario(home: Path) -> None:
    with open_store(home) as store:
        book = DigestBook(store)
        book.enable(CHANNEL_ID, GUILD_ID, dt.time(8, 0))
        book.enable(CHANNEL2_ID, GUILD_ID, dt.time(8, 0))
        store.ingest(new_papers("2602", dt.date(2026, 2, 1)))
    fake = FakeDiscord()
    await fake.start()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    when = "2026-02-01T09:00:00+00:00"
    command = [sys.executable, "-m", "tests.bot.digest_runner", str(home), str(fake.port), when]
    try:
        first = await asyncio.create_subprocess_exec(*command, env=env, cwd=str(ROOT), stdout=asyncio.subprocess.PIPE)

        def kill_after_first_post(channel_id: str, body: dict) -> None:
            if channel_id == str(CHANNEL_ID):
                first.kill()  # the message reached Discord; the bot dies before it hears back

        fake.on_channel_post = kill_after_first_post
        assert await asyncio.wait_for(first.wait(), 120) != 0
        assert len(posted_to(fake, CHANNEL_ID)) == 1 and not posted_to(fake, CHANNEL2_ID)

        fake.on_channel_post = None
        second = await asyncio.create_subprocess_exec(*command, env=env, cwd=str(ROOT), stdout=asyncio.subprocess.PIPE)
        out, _ = await asyncio.wait_for(second.communicate(), 120)
        assert second.returncode == 0 and b"posted 1" in out
        for channel in (CHANNEL_ID, CHANNEL2_ID):
            messages = posted_to(fake, channel)
            assert len(messages) == 1, f"channel {channel} got {len(messages)} digests"
            assert messages[0]["embeds"][0]["footer"]["text"].startswith("paperbot digest 2026-02-01")
    finally:
        await fake.stop()


def test_exactly_once_across_a_crash_between_channels(tmp_path):
    asyncio.run(crash_scenario(tmp_path / "home"))
