"""Renderers stay inside Discord's limits, escape user text and never orphan a citation."""

from __future__ import annotations

import datetime as dt

import discord
import pytest

from bot.render import (
    DESCRIPTION_MAX,
    EMBED_TOTAL_MAX,
    FIELD_VALUE_MAX,
    IN_CONTEXT_NOTE,
    TITLE_MAX,
    answer_embed,
    embed_size,
    fit_embed,
    follow_up_embed,
    link,
    paper_embed,
    quote,
    safe,
    safe_url,
    search_embed,
)
from corpus.loaders import load_path
from corpus.models import Paper
from retrieval.answers.answer import Answer, AnswerSentence, Citation
from retrieval.answers.search import SearchHit
from retrieval.answers.tldr import PaperOut
from tests.bot.fake_discord import violations
from tests.conftest import DATA, need


def within_limits(embed) -> None:
    assert len(embed.title or "") <= TITLE_MAX
    assert len(embed.description or "") <= DESCRIPTION_MAX
    assert all(len(f.value) <= FIELD_VALUE_MAX and len(f.name) <= 256 for f in embed.fields)
    assert len(embed.fields) <= 25
    assert embed_size(embed) <= EMBED_TOTAL_MAX


def citation(n: int, title: str = "A paper") -> Citation:
    return Citation(
        n=n,
        paper_id=f"2401.0000{n}",
        title=title,
        url=f"https://arxiv.org/abs/2401.0000{n}",
        published=dt.date(2024, 1, n),
        score=1.0,
    )


def test_long_answers_are_cut_at_sentence_boundaries_without_orphans():
    sentences = [AnswerSentence(text=("word " * 300).strip() + f" {i}.", citation=i + 1) for i in range(8)]
    answer = Answer(
        question="q" * 5000, found=True, answer=sentences, citations=[citation(i + 1, "T" * 300) for i in range(8)]
    )
    embed = answer_embed(answer)
    within_limits(embed)
    markers = {int(n) for n in __import__("re").findall(r"\*\*\[(\d+)\]\*\*", embed.description)}
    fields = {int(f.name.split("]")[0].lstrip("[")) for f in embed.fields}
    assert markers == fields and markers  # every marker has its reference, every reference is cited
    assert embed.description.endswith("**") and embed.title.endswith("…")


def test_a_single_huge_sentence_is_cut_but_keeps_its_citation():
    answer = Answer(
        question="q", found=True, answer=[AnswerSentence(text="x" * 9000, citation=1)], citations=[citation(1)]
    )
    embed = answer_embed(answer)
    within_limits(embed)
    assert embed.description.endswith("**[1]**") and len(embed.fields) == 1


def test_no_answer_embed():
    embed = answer_embed(Answer(question="banana bread?", found=False, answer=[], citations=[]))
    assert "found nothing" in embed.description and not embed.fields and not embed.footer.text


def test_a_corrected_question_says_how_it_was_read_in_the_footer():
    read = Answer(question="the negotation game", found=False, answer=[], citations=[], read_as="the negotiation game")
    assert answer_embed(read).footer.text == "Read as: the negotiation game"
    assert search_embed("perciever", [], 0, 5, read_as="perceiver").footer.text == "Read as: perceiver"
    follow = follow_up_embed(read, in_context=True, fell_back=False)
    assert follow.footer.text.startswith(IN_CONTEXT_NOTE) and follow.footer.text.endswith("the negotiation game")


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("@everyone look", "@everyone"),
        ("<@123> hi", "<@123>"),
        ("<@&456> role", "<@&456>"),
        ("**bold** `code`", "**bold**"),
        ("```py\nprint()\n```", "```"),
    ],
)
def test_user_text_is_escaped(text, bad):
    assert bad not in safe(text)
    assert bad not in quote(text)


def test_quotes_are_cut():
    assert len(quote("a" * 10_000)) <= 200


def test_longest_scifact_abstracts_fit_a_paper_card():
    papers = load_path(need(DATA / "scifact" / "corpus.jsonl"))
    longest = sorted(papers, key=lambda p: len(p.abstract), reverse=True)[:5]
    assert len(longest[0].abstract) > DESCRIPTION_MAX  # the test is only worth something if they overflow
    for paper in longest:
        embed = paper_embed(PaperOut(paper=paper, tldr=paper.sentences[0]))
        within_limits(embed)
        assert embed.description.endswith("…")


def test_paper_card_with_many_authors():
    paper = Paper(id="2403.05530", title="T", abstract="One. Two.", authors=[f"Author {i}" for i in range(700)])
    embed = paper_embed(PaperOut(paper=paper, tldr="One."))
    within_limits(embed)
    assert "and 692 more" in embed.fields[1].value


def test_search_page():
    hits = [
        SearchHit(
            paper_id=f"p{i}",
            score=10 - i / 10,
            title=f"Title {i} " + "x" * 300,
            url="https://x",
            published="2020-01-01",
        )
        for i in range(12)
    ]
    embed = search_embed("query", hits, page=2, per_page=5)
    within_limits(embed)
    assert embed.description.startswith("**11.**") and "Page 3 of 3" in embed.footer.text
    assert "No papers match" in search_embed("q", [], 0, 5).description


@pytest.mark.parametrize(
    "url, kept",
    [
        ("https://arxiv.org/abs/2403.05530", True),
        ("http://example.org/a?b=c#d", True),
        ("javascript:alert(1)", False),
        ("https://arxiv.org/abs/2403 05530", False),
        ("ftp://example.org/file", False),
        ("https://", False),
        ("https://example.org/" + "a" * 2100, False),
        ("", False),
        (None, False),
    ],
)
def test_safe_url_keeps_only_what_discord_accepts(url, kept):
    assert safe_url(url) == (url if kept else None)


def test_links_encode_parentheses_and_drop_bad_urls():
    assert link("t", "https://en.wikipedia.org/wiki/A_(b)") == "[t](https://en.wikipedia.org/wiki/A_%28b%29)"
    assert link("t", "javascript:alert(1)") == "t"


def test_fit_embed_brings_any_embed_within_every_limit():
    embed = discord.Embed(title="T" * 400, description="D" * 5000, url="javascript:x")
    embed.set_footer(text="F" * 3000)
    embed.set_author(name="A" * 300)
    for n in range(30):
        embed.add_field(name="N" * 300, value="V" * 1100 if n else "", inline=False)
    fitted = fit_embed(embed)
    assert violations({"embeds": [fitted.to_dict()]}) == []
    assert fitted.url is None and len(fitted.fields) <= 25 and embed_size(fitted) <= EMBED_TOTAL_MAX
    small = discord.Embed(title="ok", description="fine", url="https://example.org")
    assert fit_embed(small).to_dict() == small.to_dict()


def test_paper_card_leaves_out_a_url_discord_rejects():
    paper = Paper(id="2403.05530", title="T", abstract="One sentence.", url="https://arxiv.org/abs/x y")
    assert paper_embed(PaperOut(paper=paper, tldr=None)).url is None
