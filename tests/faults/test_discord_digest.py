"""Digest faults through the real discord.py client on the fake Discord: no lost part, no duplicate, nothing over a limit.

Issue #12: killed mid-digest and restarted on a later day, the rest was never posted; a part
Discord refused (400) blocked the later parts forever; a message Discord stored before
answering 502 was posted again; a restart after 50 newer messages re-sent part 1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import sys
from pathlib import Path

from bot.render import digest_marker, digest_messages
from corpus.digests import DigestBook
from corpus.home import open_store
from retrieval.answers.digest import Digest, DigestItem
from tests.bot.fake_discord import CHANNEL_ID, GUILD_ID, FakeDiscord, violations
from tests.faults.discord_harness import ROOT, UTC, Records, bot_on_fake, footers, many_papers

DAY = dt.date(2026, 2, 1)


def enable_with_papers(home: Path, count: int) -> None:
    with open_store(home) as store:
        book = DigestBook(store)
        book.enable(CHANNEL_ID, GUILD_ID, dt.time(8, 0))
        store.ingest(many_papers("2602", DAY, count))
        book.close()


async def killed_then_restarted_next_day(home: Path) -> None:
    enable_with_papers(home, 20)  # 3 parts: 8 + 8 + 4
    fake = FakeDiscord()
    await fake.start()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def runner(when: str) -> list[str]:
        return [sys.executable, "-m", "tests.bot.digest_runner", str(home), str(fake.port), when]

    try:
        first = await asyncio.create_subprocess_exec(
            *runner("2026-02-01T09:00:00+00:00"), env=env, cwd=str(ROOT), stdout=asyncio.subprocess.PIPE
        )

        def kill_after_first_part(channel_id: str, body: dict) -> None:
            first.kill()  # Discord has part 1; the bot dies before it hears back

        fake.on_channel_post = kill_after_first_part
        assert await asyncio.wait_for(first.wait(), 60) != 0
        fake.on_channel_post = None
        assert footers(fake.posted(CHANNEL_ID)) == [digest_marker(DAY, 1, 3)]

        # the channel moves on (60 messages: more than one page of history), and the restart comes
        # the next UTC day, long after Discord forgot the nonce
        for n in range(60):
            fake.add_message(CHANNEL_ID, f"chatter {n}")
        fake.nonce_window = 0.0
        second = await asyncio.create_subprocess_exec(
            *runner("2026-02-02T09:00:00+00:00"), env=env, cwd=str(ROOT), stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 0 and b"posted 2" in out, out
        assert footers(fake.posted(CHANNEL_ID)) == [digest_marker(DAY, n, 3) for n in (1, 2, 3)]
        assert fake.rejected == []
    finally:
        await fake.stop()
    with open_store(home) as store:
        book = DigestBook(store)
        assert book.entry(CHANNEL_ID, DAY).done
        parts = book.parts(CHANNEL_ID, DAY)
        assert [(p.part, p.status) for p in parts] == [(1, "sent"), (2, "sent"), (3, "sent")]
        assert all(p.message_id for p in parts)
        book.close()


def test_killed_mid_digest_resumes_on_a_later_day_without_resending(tmp_path):
    asyncio.run(killed_then_restarted_next_day(tmp_path / "home"))


async def refused_part_does_not_block(home: Path) -> None:
    enable_with_papers(home, 20)
    async with bot_on_fake(home) as (fake, bot):
        poster = bot.get_cog("Digests").poster

        def refuse_the_next(channel_id: str, body: dict) -> None:
            if len(fake.posted(CHANNEL_ID)) == 1:
                fake.fail(400)  # part 2 is refused, as Discord refuses a part over a limit

        fake.on_channel_post = refuse_the_next
        with Records() as logged:
            assert await poster.run_due(now=dt.datetime(2026, 2, 1, 9, 0, tzinfo=UTC), fetch=False) == 2
        assert footers(fake.posted(CHANNEL_ID)) == [digest_marker(DAY, 1, 3), digest_marker(DAY, 3, 3)]
        refused = [r for r in logged.at(logging.ERROR) if "refused digest part" in r.getMessage()]
        assert len(refused) == 1 and refused[0].exc_info is None  # one line, no traceback
        parts = await asyncio.to_thread(poster.book.parts, CHANNEL_ID, DAY)
        assert [p.status for p in parts] == ["sent", "failed", "sent"] and "400" in parts[1].error
        # recorded and moved on: later passes neither retry it nor send anything again
        assert await poster.run_due(now=dt.datetime(2026, 2, 1, 10, 0, tzinfo=UTC), fetch=False) == 0
        assert await poster.run_due(now=dt.datetime(2026, 2, 2, 9, 0, tzinfo=UTC), fetch=False) == 0
        assert len(fake.posted(CHANNEL_ID)) == 2


def test_a_refused_part_is_recorded_and_later_parts_still_go_out(tmp_path):
    asyncio.run(refused_part_does_not_block(tmp_path / "home"))


def monstrous_digest(day: dt.date) -> Digest:
    """What a store with unvalidated records can hold: 5,000-character URLs, huge titles, authors, TLDRs."""
    items = []
    for n in range(40):
        items.append(
            DigestItem(
                paper_id=f"bad.{n}",
                title=f"@everyone {n} " + "T" * 3000,
                url=["https://example.org/" + "u" * 5000, "javascript:alert(1)", "https://exa mple.org/x"][n % 3],
                authors=[f"<@&{n}> " + "A" * 400 for _ in range(50)],
                tldr="**bold** " + "word " * 2000,
            )
        )
    return Digest(date=day, papers=items)


def test_digest_parts_are_within_discord_limits_whatever_the_records():
    embeds = digest_messages(monstrous_digest(DAY))
    assert len(embeds) == 5
    for embed in embeds:
        body = {"embeds": [embed.to_dict()]}
        assert violations(body) == []
        assert "example.org/uuuu" not in embed.description and "javascript:" not in embed.description
        assert "@everyone" not in embed.description


async def unvalidated_records_are_posted(home: Path) -> None:
    with open_store(home) as store:
        book = DigestBook(store)
        book.enable(CHANNEL_ID, GUILD_ID, dt.time(8, 0))
        digest = monstrous_digest(DAY)
        # a digest claimed from records that predate URL validation (the ledger keeps the rendered items)
        book.claim(CHANNEL_ID, DAY, lambda subscription, papers: (digest.model_dump_json(), 5))
        book.close()
    async with bot_on_fake(home) as (fake, bot):
        poster = bot.get_cog("Digests").poster
        assert await poster.run_due(now=dt.datetime(2026, 2, 1, 9, 0, tzinfo=UTC), fetch=False) == 5
        assert fake.rejected == []
        assert footers(fake.posted(CHANNEL_ID))[:4] == [digest_marker(DAY, n, 5) for n in range(1, 5)]


def test_records_with_huge_urls_and_titles_give_parts_discord_accepts(tmp_path):
    asyncio.run(unvalidated_records_are_posted(tmp_path / "home"))


async def flaky_discord(home: Path) -> None:
    enable_with_papers(home, 20)
    async with bot_on_fake(home) as (fake, bot):
        poster = bot.get_cog("Digests").poster
        path = f"/channels/{CHANNEL_ID}/messages"
        fake.fail(429, path=path, retry_after=0.3)  # part 1: rate limited, discord.py waits and retries
        fake.fail(502, path=path, store=True)  # part 1 again: stored, then 502; discord.py's retry repeats the nonce
        fake.fail("drop", path=path, store=True)  # part 2: stored, connection dropped; our retry repeats the nonce
        sent = await poster.run_due(now=dt.datetime(2026, 2, 1, 9, 0, tzinfo=UTC), fetch=False)
        assert sent == 3
        assert footers(fake.posted(CHANNEL_ID)) == [digest_marker(DAY, n, 3) for n in (1, 2, 3)]
        posts = [r for r in fake.requests if r.method == "POST" and r.path == path]
        assert len(posts) == 6  # 3 parts, plus the repeats after 429, 502 and the dropped connection
        assert all(p.body["enforce_nonce"] for p in posts)
        assert fake.rejected == []


def test_429_502_and_dropped_answers_post_each_part_once(tmp_path):
    asyncio.run(flaky_discord(tmp_path / "home"))


async def stored_but_never_confirmed(home: Path) -> None:
    enable_with_papers(home, 20)
    async with bot_on_fake(home) as (fake, bot):
        poster = bot.get_cog("Digests").poster
        path = f"/channels/{CHANNEL_ID}/messages"
        fake.fail("drop", path=path, store=True, times=3)  # part 1 reaches Discord; no answer ever comes back
        with Records() as logged:
            assert await poster.run_due(now=dt.datetime(2026, 2, 1, 9, 0, tzinfo=UTC), fetch=False) == 0
        assert not logged.at(logging.ERROR)  # a transient outage is a warning, not a traceback
        assert len(fake.posted(CHANNEL_ID)) == 1
        [part] = await asyncio.to_thread(poster.book.parts, CHANNEL_ID, DAY)
        assert part.status == "sending"
        # the next pass comes after Discord forgot the nonce: the ledger finds part 1 in the channel
        for n in range(120):
            fake.add_message(CHANNEL_ID, f"chatter {n}")
        fake.nonce_window = 0.0
        assert await poster.run_due(now=dt.datetime(2026, 2, 2, 9, 0, tzinfo=UTC), fetch=False) == 2
        assert footers(fake.posted(CHANNEL_ID)) == [digest_marker(DAY, n, 3) for n in (1, 2, 3)]


def test_a_part_stored_without_an_answer_is_found_not_resent(tmp_path):
    asyncio.run(stored_but_never_confirmed(tmp_path / "home"))
