"""Issue #15 on Discord, end to end: the real discord.py client (bot.start()) against the fake on 127.0.0.1.

Votes (one per person, exported), the Cite button (BibTeX parsed back), /cite, /related, the paper
card's buttons, the "Find papers about this" menu, a reply-to-answer follow-up, and a thread opened
by "Ask a follow-up" with a follow-up in it; every message within Discord's limits, pinging nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import bibtexparser

from bot.cogs.conversation import PRESSES
from bot.main import PaperBot, make_bot
from bot.render import FELL_BACK_NOTE, IN_CONTEXT_NOTE
from bot.settings import Settings
from corpus.feedback import Feedback
from tests.bot.fake_discord import APP_ID, CHANNEL_ID, ROLE_ID, USER_ID, FakeDiscord, message_payload, violations
from tests.bot.test_end_to_end import check_message

TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
FLAMINGO = "2204.14198"
PERCEIVER_IO = "2107.14795"
OTHER_USER = 900000000000000301
BUSY_USER = 900000000000000302
EPHEMERAL = 64


@contextlib.asynccontextmanager
async def running(home: Path, **settings: object) -> AsyncIterator[tuple[FakeDiscord, PaperBot]]:
    fake = FakeDiscord()
    await fake.start()
    bot = make_bot(Settings(_env_file=None, DISCORD_TOKEN=TOKEN, PAPERBOT_DIGEST_RUNNER=False, **settings), home)
    bot._connection.guild_ready_timeout = 0.05  # the fake has one guild; do not wait 2 s for more
    runner = asyncio.create_task(bot.start(TOKEN))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 30)
        yield fake, bot
    finally:
        await bot.close()
        await asyncio.wait_for(runner, 10)
        await fake.stop()


def webhook_post(token: str):
    return lambda r: r.method == "POST" and r.path.startswith(f"/webhooks/{APP_ID}/{token}")


def channel_post(channel_id: int | str):
    return lambda r: r.method == "POST" and r.path == f"/channels/{channel_id}/messages"


def buttons(body: dict) -> dict[str, str]:
    """label (or emoji) -> custom_id of every button on a message."""
    found = {}
    for row in body.get("components") or []:
        for item in row["components"]:
            found[item.get("label") or item["emoji"]["name"]] = item["custom_id"]
    return found


async def ephemeral_reply(fake: FakeDiscord, token: str) -> dict:
    """The ephemeral answer to an interaction: a type-4 callback, or a deferred (type 5) one's follow-up."""
    callback = await fake.wait_for(lambda r: r.path.endswith("/callback") and token in r.path)
    assert callback.body["type"] in (4, 5) and callback.body["data"]["flags"] & EPHEMERAL
    assert callback.at - fake.interaction_created[token] < 3.0
    if callback.body["type"] == 4:
        return callback.body["data"]
    follow = await fake.wait_for(webhook_post(token))
    assert follow.body["flags"] & EPHEMERAL
    return follow.body


async def kept_in(bot: PaperBot, conversation: str, count: int) -> list:
    """The answers kept for a conversation, once there are `count` (the bot keeps one just after sending it)."""
    for _ in range(100):
        with bot.engine.lock:
            kept = Feedback(bot.engine.store).thread(conversation)
        if len(kept) >= count:
            return kept
        await asyncio.sleep(0.05)
    return kept


async def kept_in_answers(bot: PaperBot, message_id: str) -> None:
    """Wait until the bot has kept the answer it sent as `message_id`."""
    for _ in range(100):
        with bot.engine.lock:
            if Feedback(bot.engine.store).answer(message_id) is not None:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"answer {message_id} was never kept")


def parse_bibtex(description: str) -> list:
    block = re.search(r"```bibtex\n(.*?)\n```", description, re.S)
    assert block, description
    assert "```" not in block.group(1)  # Discord ends a code block at the next ``` wherever it is
    library = bibtexparser.parse_string(block.group(1))
    assert not library.failed_blocks
    return library.entries


def sent_messages(fake: FakeDiscord) -> list[dict]:
    """Every message body the bot sent or edited (channel posts, webhooks, interaction callbacks)."""
    bodies = []
    for r in fake.requests:
        if r.method not in ("POST", "PATCH") or not isinstance(r.body, dict):
            continue
        if r.path.endswith("/callback"):
            if r.body.get("type") in (4, 7):
                bodies.append(r.body["data"])
        elif r.path.startswith("/webhooks/") or (r.path.startswith("/channels/") and r.path.endswith("/messages")):
            bodies.append(r.body)
    return bodies


async def conversation_scenario(home: Path) -> None:
    async with running(home) as (fake, bot):
        sync = await fake.wait_for(lambda r: r.method == "PUT" and r.path == f"/applications/{APP_ID}/commands")
        names = {(c["name"], c.get("type", 1)) for c in sync.body}
        assert {("cite", 1), ("related", 1), ("Find papers about this", 3)} <= names

        # /ask: the answer carries 👍 👎 Cite and Ask a follow-up, and is kept by its message id
        token = await fake.send_command("ask", {"question": "Does Flamingo use few-shot learning?"})
        follow = await fake.wait_for(webhook_post(token))
        assert FLAMINGO in follow.body["embeds"][0]["fields"][0]["value"]
        answer_buttons = buttons(follow.body)
        assert set(answer_buttons) == {"👍", "👎", "Cite", "Ask a follow-up"}
        answer_id = fake.last_message_ids[follow.path]
        answer = message_payload(CHANNEL_ID, follow.body, message_id=answer_id)

        # votes: one per person per answer; the second press by the same person is refused
        press = await fake.press_button(answer, answer_buttons["👍"])
        assert "Thanks" in (await ephemeral_reply(fake, press))["content"]
        press = await fake.press_button(answer, answer_buttons["👎"])
        assert "already voted" in (await ephemeral_reply(fake, press))["content"]
        press = await fake.press_button(answer, answer_buttons["👎"], user_id=OTHER_USER)
        assert "Thanks" in (await ephemeral_reply(fake, press))["content"]
        with bot.engine.lock:
            votes = Feedback(bot.engine.store).export().votes
        assert [(v.answer_id, v.vote) for v in votes] == [(answer_id, 1), (answer_id, -1)]
        assert votes[0].question == "Does Flamingo use few-shot learning?"
        assert votes[0].answer["citations"][0]["paper_id"] == FLAMINGO and "index_seq" in votes[0].versions

        # Cite: ephemeral BibTeX that parses back, in arXiv's form, plus the plain reference
        press = await fake.press_button(answer, answer_buttons["Cite"])
        cite = (await ephemeral_reply(fake, press))["embeds"][0]
        [entry] = parse_bibtex(cite["description"])
        assert entry.entry_type == "misc" and entry["eprint"] == FLAMINGO and entry["archivePrefix"] == "arXiv"
        assert "Flamingo" in entry["title"] and any(FLAMINGO in f["value"] for f in cite["fields"])

        # a mention that replies to the answer is a follow-up, answered from the conversation's paper
        start = len(fake.requests)
        await fake.send_mention("can it handle videos?", reply_to=answer)
        reply = await fake.wait_for(channel_post(CHANNEL_ID), start=start)
        embed = reply.body["embeds"][0]
        assert FLAMINGO in embed["fields"][0]["value"] and "videos" in embed["description"]
        assert embed["footer"]["text"] == IN_CONTEXT_NOTE
        assert set(buttons(reply.body)) == {"👍", "👎", "Cite", "Ask a follow-up"}
        kept = await kept_in(bot, answer_id, 1)
        assert [a.question for a in kept] == ["can it handle videos?"]
        # the same question alone, with no conversation, finds nothing: the context did the work
        alone = await bot.engine.ask_async("can it handle videos?")
        assert not alone.found

        # without the permission to create threads: told to reply instead, nothing breaks
        fake.fail(403, path="/threads")
        press = await fake.press_button(answer, answer_buttons["Ask a follow-up"])
        assert "may not open threads" in (await ephemeral_reply(fake, press))["content"]
        assert not fake.threads

        # in a DM too: a reply to the bot's answer there is a follow-up
        dm_channel = 900000000000000900
        start = len(fake.requests)
        await fake.send_dm("Does Flamingo use few-shot learning?", channel_id=dm_channel)
        await fake.wait_for(channel_post(dm_channel), start=start)
        dm_answer = fake.posted(dm_channel)[-1]
        await kept_in_answers(bot, dm_answer["id"])
        start = len(fake.requests)
        await fake.send_dm("can it handle videos?", channel_id=dm_channel, reply_to=dm_answer)
        reply = await fake.wait_for(channel_post(dm_channel), start=start)
        assert FLAMINGO in reply.body["embeds"][0]["fields"][0]["value"]
        assert reply.body["embeds"][0]["footer"]["text"] == IN_CONTEXT_NOTE

        # Ask a follow-up: a thread on the answer (named after the question), then a mention in it
        start = len(fake.requests)
        press = await fake.press_button(answer, answer_buttons["Ask a follow-up"])
        told = await ephemeral_reply(fake, press)
        assert f"<#{answer_id}>" in told["content"]
        created = await fake.wait_for(lambda r: r.method == "POST" and r.path.endswith("/threads"), start=start)
        assert created.path == f"/channels/{CHANNEL_ID}/messages/{answer_id}/threads"
        assert created.body["name"] == "Does Flamingo use few-shot learning?"
        start = len(fake.requests)
        await fake.send_mention("does it beat fine-tuned models?", channel_id=answer_id)
        reply = await fake.wait_for(channel_post(answer_id), start=start)
        embed = reply.body["embeds"][0]
        assert FLAMINGO in embed["fields"][0]["value"] and embed["footer"]["text"] == IN_CONTEXT_NOTE
        await kept_in(bot, answer_id, 2)
        # pressing it again reuses the thread (Discord refuses a second one on the same message)
        press = await fake.press_button(answer, answer_buttons["Ask a follow-up"], user_id=OTHER_USER)
        assert f"<#{answer_id}>" in (await ephemeral_reply(fake, press))["content"]
        assert len(fake.threads) == 1
        # a question the conversation cannot answer in the thread: the whole corpus's answer, and it says so
        start = len(fake.requests)
        await fake.send_mention("What is the recipe for banana bread?", channel_id=answer_id)
        reply = await fake.wait_for(channel_post(answer_id), start=start)
        assert reply.body["embeds"][0]["footer"]["text"] == FELL_BACK_NOTE
        kept = await kept_in(bot, answer_id, 3)
        assert len(kept) == 3

        # /cite ID style:bibtex, /related ID
        token = await fake.send_command("cite", {"id": f"arXiv:{FLAMINGO}v2", "style": "bibtex"})
        follow = await fake.wait_for(webhook_post(token))
        [entry] = parse_bibtex(follow.body["embeds"][0]["description"])
        assert entry["eprint"] == FLAMINGO and not follow.body["embeds"][0].get("fields")
        token = await fake.send_command("related", {"id": FLAMINGO})
        follow = await fake.wait_for(webhook_post(token))
        related = follow.body["embeds"][0]
        ids = re.findall(r"`([^`]+)`", related["description"])
        assert len(ids) == 5 and FLAMINGO not in ids and related["title"].startswith("Related to: Flamingo")
        token = await fake.send_command("related", {"id": "9999.99999"})
        assert "No paper" in (await fake.wait_for(webhook_post(token))).body["content"]

        # a paper card offers Cite and Related papers
        token = await fake.send_command("paper", {"id": PERCEIVER_IO})
        follow = await fake.wait_for(webhook_post(token))
        card_buttons = buttons(follow.body)
        assert set(card_buttons) == {"Cite", "Related papers"}
        card = message_payload(CHANNEL_ID, follow.body, message_id=fake.last_message_ids[follow.path])
        press = await fake.press_button(card, card_buttons["Related papers"])
        listed = (await ephemeral_reply(fake, press))["embeds"][0]
        assert "Perceiver IO" in listed["title"] and PERCEIVER_IO not in re.findall(r"`([^`]+)`", listed["description"])
        press = await fake.press_button(card, card_buttons["Cite"])
        [entry] = parse_bibtex((await ephemeral_reply(fake, press))["embeds"][0]["description"])
        assert entry["eprint"] == PERCEIVER_IO

        # buttons are limited per person (PRESSES in 30 s, all buttons together); others are not held up
        for _ in range(PRESSES):
            press = await fake.press_button(card, card_buttons["Cite"], user_id=BUSY_USER)
            assert "embeds" in await ephemeral_reply(fake, press)
        press = await fake.press_button(card, card_buttons["Cite"], user_id=BUSY_USER)
        assert re.search(r"Slow down a little: try again in \d+ s", (await ephemeral_reply(fake, press))["content"])
        press = await fake.press_button(card, card_buttons["Cite"], user_id=OTHER_USER)
        assert "embeds" in await ephemeral_reply(fake, press)

        # right-click → Apps → Find papers about this: the message's text answered, its author not pinged
        target = fake.add_message(CHANNEL_ID, f"<@{USER_ID}> what is Perceiver IO? @everyone <@&{ROLE_ID}>")
        token = await fake.send_message_command("Find papers about this", target)
        follow = await fake.wait_for(webhook_post(token))
        embed = follow.body["embeds"][0]
        assert PERCEIVER_IO in embed["fields"][0]["value"] and embed["title"] == "what is Perceiver IO?"
        assert "👍" in buttons(follow.body)

        # everything the bot sent: inside Discord's limits, pinging nobody
        bodies = sent_messages(fake)
        assert len(bodies) >= 15
        for body in bodies:
            assert not violations(body), violations(body)
            check_message(body)
        assert not fake.rejected


async def feedback_off_scenario(home: Path) -> None:
    async with running(home, PAPERBOT_FEEDBACK=False) as (fake, bot):
        token = await fake.send_command("ask", {"question": "Does Flamingo use few-shot learning?"})
        follow = await fake.wait_for(webhook_post(token))
        assert set(buttons(follow.body)) == {"Cite"}
        answer_id = fake.last_message_ids[follow.path]
        # a vote button on an answer sent while feedback was on: refused, nothing stored
        vote_row = {
            "type": 1,
            "components": [{"type": 2, "style": 2, "custom_id": "pb:vote:up", "emoji": {"name": "👍"}}],
        }
        answer = message_payload(CHANNEL_ID, {**follow.body, "components": [vote_row]}, message_id=answer_id)
        press = await fake.press_button(answer, "pb:vote:up")
        assert "turned off" in (await ephemeral_reply(fake, press))["content"]
        with bot.engine.lock:
            feedback = Feedback(bot.engine.store)
            assert feedback.answer(answer_id) is None and not feedback.export().votes
        # a reply to the answer is then an ordinary question
        start = len(fake.requests)
        await fake.send_mention("can it handle videos?", reply_to=answer)
        reply = await fake.wait_for(channel_post(CHANNEL_ID), start=start)
        assert "footer" not in reply.body["embeds"][0] and "found nothing" in reply.body["embeds"][0]["description"]


def test_conversation_end_to_end(tmp_path):
    asyncio.run(conversation_scenario(tmp_path / "home"))


def test_feedback_off(tmp_path):
    asyncio.run(feedback_off_scenario(tmp_path / "home"))


def test_citations_of_many_long_odd_records_stay_valid_and_within_limits():
    """30 papers with 300-character titles holding backticks, braces and @everyone: whole BibTeX entries only."""
    import datetime as dt

    import discord

    from bot.render import citation_embed, fit_embed, related_embed
    from corpus.models import Paper

    title = "Learning ```code``` with {unbalanced braces and @everyone " + "very long words " * 16
    papers = [
        Paper(
            id=f"2401.{n:05d}",
            title=title,
            abstract="An abstract.",
            authors=[f"Ada Lovelace{n}", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"],
            published=dt.date(2024, 1, 2),
            categories=["cs.LG"],
            doi="10.1000/xyz",
            journal_ref="Journal of Tests 1 (2024)",
            url=f"https://arxiv.org/abs/2401.{n:05d}",
        )
        for n in range(30)
    ]
    embed = fit_embed(citation_embed(papers))
    body = {"embeds": [embed.to_dict()], "allowed_mentions": discord.AllowedMentions.none().to_dict()}
    assert not violations(body)
    entries = parse_bibtex(embed.description)
    assert 1 <= len(entries) < 30 and f"{30 - len(entries)} more not shown" in embed.description
    assert all(e.entry_type == "misc" and e["archivePrefix"] == "arXiv" for e in entries)
    assert all("@\u200beveryone" in f.value for f in embed.fields)
    empty = related_embed(papers[0], [])
    assert "No other paper" in empty.description
