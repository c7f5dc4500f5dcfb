"""A mention or DM always gets its reply, or the asker is told it failed (issue #25, case 4).

Before the fix, with Discord answering 502 six times running, a mention was never answered: the typing
indicator's request failed first and took the answer down with it, and a reply had two short retries
where the digest's parts are resumed until they go out. Now the typing indicator never stops an answer,
a reply backs off over half a minute (same nonce: Discord keeps one message), and when every try failed
the asker is told. The real discord.py client on the fake Discord.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot import delivery
from tests.bot.fake_discord import CHANNEL_ID
from tests.faults.discord_harness import Records, bot_on_fake

MESSAGES = f"/channels/{CHANNEL_ID}/messages"
DM_CHANNEL = 900000000000000900


def posts(fake, channel: int = CHANNEL_ID) -> list:
    return [r for r in fake.requests if r.method == "POST" and r.path == f"/channels/{channel}/messages"]


async def until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def six_502s_on_everything(home) -> None:
    async with bot_on_fake(home) as (fake, bot):
        with Records() as logged:
            fake.fail(502, path="/channels/", times=6)  # typing, the reply: everything the bot sends fails 6 times
            await fake.send_mention("what is Perceiver IO?")
            await until(lambda: fake.posted(CHANNEL_ID), timeout=120)
            await asyncio.sleep(0.5)  # a duplicate or a "went wrong" would come now
        [reply] = fake.posted(CHANNEL_ID)
        assert reply["embeds"] and "Perceiver" in reply["embeds"][0]["title"] + reply["embeds"][0].get(
            "description", ""
        ), reply
        assert len({p.body["nonce"] for p in posts(fake)}) == 1  # every try the same message
        assert logged.at(logging.ERROR) == []

        fake.fail(502, path="/channels/", times=6)  # and a DM the same way
        await fake.send_dm("what is Perceiver IO?")
        await until(lambda: fake.posted(DM_CHANNEL), timeout=120)
        await asyncio.sleep(0.5)
        assert len(fake.posted(DM_CHANNEL)) == 1 and fake.posted(DM_CHANNEL)[0]["embeds"]
        assert fake.rejected == []


class _FasterSleep:
    """asyncio as discord.http sees it, with its waits between retries (1 + 2 * tries seconds) ten times shorter."""

    def __getattr__(self, name):
        return getattr(asyncio, name)

    @staticmethod
    async def sleep(seconds, *args):
        await asyncio.sleep(seconds / 10, *args)


def test_six_502s_in_a_row_still_answer_a_mention_and_a_dm_once(tmp_path, monkeypatch):
    import discord.http

    # every wait keeps its shape, ten times shorter: discord.py's own retries, then the bot's backoff
    monkeypatch.setattr(discord.http, "asyncio", _FasterSleep())
    monkeypatch.setattr(delivery, "REPLY_DELAYS", tuple(d / 10 for d in delivery.REPLY_DELAYS))
    monkeypatch.setattr(delivery, "RETRY_DELAYS", tuple(d / 10 for d in delivery.RETRY_DELAYS))
    asyncio.run(six_502s_on_everything(tmp_path / "home"))


async def discord_down_for_good(home) -> None:
    async with bot_on_fake(home) as (fake, bot):
        with Records() as logged:
            fake.fail(503, path=MESSAGES, times=1000)  # every message the bot posts fails; reactions still work
            await fake.send_mention("what is Perceiver IO?")

            def reacted() -> list:
                return [r for r in fake.requests if r.method == "PUT" and "/reactions/" in r.path]

            await until(reacted, timeout=60)
        tries = posts(fake)
        answer_nonces = {p.body["nonce"] for p in tries if p.body.get("embeds")}
        assert len(answer_nonces) == 1 and len([p for p in tries if p.body.get("embeds")]) == 1 + len(
            delivery.REPLY_DELAYS
        ), "the answer: one message, tried once and then once after each backoff delay"
        notes = [p for p in tries if not p.body.get("embeds")]
        assert notes and "ask me again in a few minutes" in notes[0].body["content"]  # told, or tried to
        [reaction] = reacted()
        assert "/reactions/\u26a0" in reaction.path  # ⚠️ on the question, as a last resort
        messages = [r.getMessage() for r in logged.at(logging.WARNING)]
        assert any("could not be sent" in m and "telling the asker" in m for m in messages), messages
        assert fake.posted(CHANNEL_ID) == []


def test_a_reply_discord_keeps_refusing_is_retried_with_backoff_then_the_asker_is_told(tmp_path, monkeypatch):
    monkeypatch.setattr(delivery, "REPLY_DELAYS", (0.2, 0.4, 0.8, 1.6))  # the real backoff is 30 s; its shape is kept
    monkeypatch.setattr(delivery, "RETRY_DELAYS", (0.1, 0.2))
    asyncio.run(discord_down_for_good(tmp_path / "home"))


@pytest.mark.parametrize("status", [400])
def test_a_reply_discord_refuses_for_good_is_not_retried(tmp_path, status):
    async def refused(home) -> None:
        async with bot_on_fake(home) as (fake, bot):
            fake.fail(status, path=MESSAGES, times=1)
            await fake.send_mention("what is Perceiver IO?")
            await until(lambda: fake.posted(CHANNEL_ID), timeout=30)
            await asyncio.sleep(0.5)
            [note] = fake.posted(CHANNEL_ID)
            assert "refused my answer" in note["content"]
            assert len([p for p in posts(fake) if p.body.get("embeds")]) == 1  # not retried

    asyncio.run(refused(tmp_path / "home"))
