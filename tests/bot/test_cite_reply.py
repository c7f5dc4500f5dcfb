"""The Cite reply on Discord: a BibTeX entry too long for an embed comes as a .bib attachment, none dropped (#26)."""

from __future__ import annotations

import asyncio
import datetime as dt

import bibtexparser
import discord

from bot.main import make_bot
from bot.render import citation_reply, fit_embed
from bot.settings import Settings
from corpus.models import Paper
from tests.bot.fake_discord import APP_ID, CHANNEL_ID, FakeDiscord, Recorded, message_payload, violations
from tests.bot.test_end_to_end import TOKEN, check_message


def gemini() -> Paper:
    """Gemini (2312.11805) lists 669 authors: its BibTeX alone is far past an embed's 4,096 characters."""
    return Paper(
        id="2312.11805",
        title="Gemini: A Family of Highly Capable Multimodal Models",
        authors=["Gemini Team", *[f"Author{n} Family{n}" for n in range(668)]],
        abstract="This report introduces a new family of multimodal models.",
        published=dt.date(2023, 12, 19),
        categories=["cs.CL"],
        url="https://arxiv.org/abs/2312.11805",
    )


def small(n: int) -> Paper:
    return Paper(
        id=f"2401.{n:05d}",
        title=f"Bits & Pieces {n}",
        authors=["Ada Lovelace", "Alan Turing"],
        abstract="An abstract.",
        published=dt.date(2024, 1, 2),
        categories=["cs.LG"],
    )


def entries(file: discord.File) -> list:
    library = bibtexparser.parse_string(file.fp.read().decode("utf-8"))
    assert not library.failed_blocks
    return library.entries


def test_a_669_author_entry_comes_as_a_bib_attachment():
    embed, file = citation_reply([gemini()])
    assert file is not None and file.filename == "gemini2023gemini.bib"
    [entry] = entries(file)
    assert entry["eprint"] == "2312.11805" and entry["author"].count(" and ") == 668  # every author, whole
    assert "attached `gemini2023gemini.bib`" in embed.description
    assert not violations({"embeds": [fit_embed(embed).to_dict()]})


def test_the_cite_button_on_many_papers_attaches_every_entry_instead_of_dropping_some():
    papers = [gemini(), *[small(n) for n in range(9)]]
    embed, file = citation_reply(papers)
    assert file is not None and file.filename == "citations.bib"
    assert [e["eprint"] for e in entries(file)] == [p.id for p in papers]
    assert "all 10 papers" in embed.description and "not shown" not in embed.description


def test_short_entries_stay_in_the_embed_with_no_attachment():
    embed, file = citation_reply([small(1), small(2)])
    assert file is None and embed.description.startswith("```bibtex") and "Bits \\& Pieces 1" in embed.description
    plain, none = citation_reply([gemini()], "plain")
    assert none is None and plain.fields


async def cite_on_discord(home) -> tuple[Recorded, Recorded, Recorded]:
    """/cite for Gemini 1.5 (669 authors) and a short one, and the Cite button on Gemini 1.5's /paper card."""
    fake = FakeDiscord()
    await fake.start()
    bot = make_bot(Settings(DISCORD_TOKEN=TOKEN), home)
    runner = asyncio.create_task(bot.start(TOKEN))

    def follow_up(token: str):
        return lambda r: r.method == "POST" and r.path.startswith(f"/webhooks/{APP_ID}/{token}")

    try:
        await asyncio.wait_for(fake.ready.wait(), 30)
        await asyncio.wait_for(bot.wait_until_ready(), 30)
        long = await fake.wait_for(follow_up(await fake.send_command("cite", {"id": "2403.05530"})))
        short = await fake.wait_for(follow_up(await fake.send_command("cite", {"id": "2302.10322"})))
        card = await fake.wait_for(follow_up(await fake.send_command("paper", {"id": "2403.05530"})))
        buttons = [c for row in card.body["components"] for c in row["components"]]
        cite = next(b for b in buttons if b.get("label") == "Cite")
        message = message_payload(CHANNEL_ID, card.body, message_id=fake.last_message_ids[card.path])
        pressed = await fake.wait_for(follow_up(await fake.press_button(message, cite["custom_id"])))
    finally:
        await bot.close()
        await asyncio.wait_for(runner, 10)
        await fake.stop()
    return long, short, pressed


def bib_entries(data: bytes) -> list:
    library = bibtexparser.parse_string(data.decode("utf-8"))
    assert not library.failed_blocks
    return library.entries


def test_cite_and_the_cite_button_on_discord_attach_a_long_entry_as_a_bib_file(tmp_path):
    long, short, pressed = asyncio.run(cite_on_discord(tmp_path / "home"))
    for sent in (long, pressed):  # multipart: the embed in payload_json, the entry in the attached .bib
        check_message(sent.body)
        [(name, data)] = sent.files.items()
        assert name.endswith(".bib") and [a["filename"] for a in sent.body["attachments"]] == [name]
        [entry] = bib_entries(data)
        assert entry["eprint"] == "2403.05530" and entry["author"].count(" and ") == 668  # all 669 authors
        assert f"attached `{name}`" in sent.body["embeds"][0]["description"]
    assert pressed.body["flags"] & 64  # the button's reply stays ephemeral
    check_message(short.body)
    assert not short.files and short.body["embeds"][0]["description"].startswith("```bibtex")
