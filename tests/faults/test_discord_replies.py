"""Replies through the real discord.py client on the fake Discord: no duplicate, nothing over a limit, no
ERROR for a mention, and a locked store answered "busy" within 3 s instead of a frozen bot (issue #12)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sqlite3
import time
from pathlib import Path

from corpus.home import STORE_FILE
from corpus.models import Paper
from retrieval.answers.tldr import PaperOut
from tests.bot.fake_discord import APP_ID, CHANNEL_ID, ROLE_ID, USER_ID
from tests.faults.discord_harness import Records, bot_on_fake

MESSAGES = f"/channels/{CHANNEL_ID}/messages"


def replies(fake) -> list[dict]:
    return fake.posted(CHANNEL_ID)


async def until(condition, timeout: float = 15.0) -> None:
    """Wait for `condition()` to hold (the retries under test sleep 1 s or more)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def mentions(home: Path) -> None:
    async with bot_on_fake(home) as (fake, bot):

        def posts() -> list:
            return [r for r in fake.requests if r.method == "POST" and r.path == MESSAGES]

        with Records() as logged:
            await fake.send_mention("how do you train transformers without normalisation?")
            await until(lambda: len(posts()) == 1)
            await asyncio.sleep(0.3)  # anything logged after the reply
        assert logged.at(logging.ERROR) == []
        assert len(replies(fake)) == 1

        # stored, then 502: discord.py repeats the request with the same nonce; Discord returns the stored reply
        fake.fail(502, path=MESSAGES, store=True)
        await fake.send_mention("what is Perceiver IO?")
        await until(lambda: len(posts()) == 3)
        # stored, then 503 (discord.py does not retry it): the bot retries with the same nonce
        fake.fail(503, path=MESSAGES, store=True)
        await fake.send_mention("which model recalls facts over millions of tokens?")
        await until(lambda: len(posts()) == 5)
        await asyncio.sleep(0.5)  # a duplicate or a "went wrong" would come now
        texts = [m["embeds"][0]["title"] if m["embeds"] else m["content"] for m in replies(fake)]
        assert len(texts) == 3, texts  # one reply per mention, no "went wrong"
        assert len(posts()) == 5 and len({p.body["nonce"] for p in posts()}) == 3
        assert fake.rejected == []


def test_mentions_answered_once_without_error_logs(tmp_path):
    asyncio.run(mentions(tmp_path / "home"))


async def subscribe_and_list(home: Path) -> None:
    async with bot_on_fake(home) as (fake, bot):
        await fake.reply_for(await fake.send_command_group("digest", "here", {}))
        loud = [f"@everyone <@&{ROLE_ID}> <@{USER_ID}> keyword {n} " + "k" * 25 for n in range(20)]
        reply = await fake.reply_for(
            await fake.send_command_group(
                "digest", "subscribe", {"keywords": ", ".join(loud), "authors": ", ".join(["@here " + "h" * 90] * 20)}
            )
        )
        assert len(reply["content"]) <= 2000 and "keyword 0" in reply["content"]
        for raw in ("@everyone", "@here", f"<@&{ROLE_ID}>", f"<@{USER_ID}>"):
            assert raw not in reply["content"]
        assert "@\u200beveryone" in reply["content"] and reply["allowed_mentions"]["parse"] == []

        # an item too long to be a keyword is refused, saying why; nothing is stored
        refusal = await fake.reply_for(await fake.send_command_group("digest", "subscribe", {"keywords": "x" * 5000}))
        assert "at most 100 characters" in refusal["content"] and refusal["flags"] & 64

        # a subscription stored before these limits (10,000 characters of keywords) still lists within limits
        await asyncio.to_thread(bot.get_cog("Digests").book.subscribe, CHANNEL_ID, ["@everyone " + "z" * 5000] * 2, [])
        listing = await fake.reply_for(await fake.send_command_group("digest", "list", {}))
        assert len(listing["content"]) <= 2000 and "@everyone" not in listing["content"]
        assert f"<#{CHANNEL_ID}>" in listing["content"] and listing["flags"] & 64
        assert fake.rejected == []


def test_subscribe_and_list_replies_are_bounded_and_escaped(tmp_path):
    asyncio.run(subscribe_and_list(tmp_path / "home"))


def legacy_paper(url: str) -> PaperOut:
    """A record from before URLs were validated at ingest (built without validation, as it was stored)."""
    paper = Paper.model_construct(
        id="2403.05530",
        version=1,
        title="Gemini 1.5 " + "long title " * 100,
        authors=[f"Author {n} " + "a" * 300 for n in range(40)],
        abstract="We study recall. " * 500,
        sentences=["We study recall over millions of tokens " + "really " * 50 + "."] * 60,
        published=dt.date(2024, 3, 8),
        url=url,
        source="old.jsonl",
        updated=None,
        comment=None,
        categories=[],
    )
    return PaperOut.model_construct(paper=paper, tldr="Recall " * 400)


async def paper_cards(home: Path) -> None:
    async with bot_on_fake(home) as (fake, bot):
        for url in ("javascript:alert(1)", "https://arxiv.org/abs/2403 05530", "https://arxiv.org/" + "a" * 3000):

            async def stored(raw_id: str, url: str = url) -> PaperOut:
                return legacy_paper(url)

            bot.engine.paper_async = stored
            card = await fake.reply_for(await fake.send_command("paper", {"id": "2403.05530"}))
            [embed] = card["embeds"]
            assert "url" not in embed and embed["title"].startswith("Gemini 1.5")
        assert fake.rejected == []


def test_paper_cards_leave_out_urls_discord_rejects(tmp_path):
    asyncio.run(paper_cards(tmp_path / "home"))


async def locked_store(home: Path) -> None:
    async with bot_on_fake(home) as (fake, bot):
        # another process takes the store's write lock and keeps it
        other = sqlite3.connect(home / STORE_FILE, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with Records() as logged:
                token = await fake.send_command_group("digest", "here", {})
                reply = await fake.reply_for(token, timeout=10)
                answered = time.monotonic() - fake.interaction_created[token]
                assert "busy" in reply["content"] and answered < 3.0, (reply, answered)
                deferred = next(r for r in fake.for_token(token) if r.path.endswith("/callback"))
                assert deferred.body["type"] == 5 and deferred.at - fake.interaction_created[token] < 1.0
                # reads still work while the write lock is held, and the loop is free for everyone else
                listing = await fake.reply_for(await fake.send_command_group("digest", "list", {}))
                assert "No digests" in listing["content"]
                started = time.monotonic()
                await fake.reply_for(await fake.send_command("help", {}))
                assert time.monotonic() - started < 1.0
            assert logged.at(logging.ERROR) == []  # busy is a warning, not a traceback
        finally:
            other.execute("ROLLBACK")
            other.close()
        reply = await fake.reply_for(await fake.send_command_group("digest", "here", {}))
        assert "Daily digest on" in reply["content"]
        assert fake.rejected == []
        assert any(r.path.startswith(f"/webhooks/{APP_ID}/") for r in fake.requests)


def test_a_locked_store_gets_a_busy_reply_within_3_s(tmp_path):
    asyncio.run(locked_store(tmp_path / "home"))
