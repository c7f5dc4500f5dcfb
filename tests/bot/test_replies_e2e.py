"""The four replies on Discord — an answer, nothing found, the third reply, the collection reply — through the real
discord.py client stack against the fake Discord on 127.0.0.1, as mentions in a channel."""

from __future__ import annotations

import asyncio

from bot.main import make_bot
from bot.settings import Settings
from tests.bot.fake_discord import CHANNEL_ID, FakeDiscord
from tests.bot.test_end_to_end import TOKEN, check_message
from tests.retrieval.test_replies import CASES


async def ask_all(home) -> dict[str, dict]:
    fake = FakeDiscord()
    await fake.start()
    bot = make_bot(Settings(DISCORD_TOKEN=TOKEN), home)
    runner = asyncio.create_task(bot.start(TOKEN))
    embeds = {}
    try:
        await asyncio.wait_for(fake.ready.wait(), 30)
        await asyncio.wait_for(bot.wait_until_ready(), 30)
        for kind, question in CASES.items():
            start = len(fake.requests)
            await fake.send_mention(question)
            reply = await fake.wait_for(
                lambda r: r.method == "POST" and r.path == f"/channels/{CHANNEL_ID}/messages", start=start
            )
            check_message(reply.body)
            [embeds[kind]] = reply.body["embeds"]
    finally:
        await bot.close()
        await asyncio.wait_for(runner, 10)
        await fake.stop()
    return embeds


def test_each_reply_on_discord(tmp_path):
    embeds = asyncio.run(ask_all(tmp_path / "home"))
    answer = embeds["answer"]
    assert "**[1]**" in answer["description"] and "arxiv.org/abs/2103.03206" in answer["fields"][0]["value"]
    assert "found nothing" in embeds["nothing"]["description"]
    unstated = embeds["unstated"]
    assert unstated["description"].startswith("**[1]** *Perceiver IO")
    assert "its abstract does not state the batch size" in unstated["description"]
    assert "arxiv.org/abs/2107.14795" in unstated["fields"][0]["value"]  # cited as context, nothing quoted
    collection = embeds["collection"]
    assert "question about the whole collection" in collection["description"]
    assert "`/search transformers`" in collection["description"] and not collection.get("fields")
