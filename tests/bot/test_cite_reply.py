"""The Cite reply on Discord: a BibTeX entry too long for an embed comes as a .bib attachment, none dropped (#26)."""

from __future__ import annotations

import datetime as dt

import bibtexparser
import discord

from bot.render import citation_reply, fit_embed
from corpus.models import Paper
from tests.bot.fake_discord import violations


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
