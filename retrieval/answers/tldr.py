"""A one-sentence extractive TLDR for a paper: the sentence that best says what the paper does.

Each sentence scores by how much of the title's idf mass it covers (the title says
what the paper is about), plus a bonus for the phrases with which authors state their
contribution ("we propose", "we introduce", "we show") and a mild preference for
earlier sentences. Weights were tuned on SciTLDR train (README has the figures).
"""

from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel

from corpus.models import Paper
from retrieval.lexical.index import SearchIndex

CONTRIBUTION = re.compile(
    r"\b(?:we|this paper|this work|our (?:method|approach|model|framework|results?)|here,? we)\s+"
    r"(?:\w+ly\s+)?(?:propose|present|introduce|show|demonstrate|develop|describe|find|report|design|study|"
    r"investigate|explore|provide|prove|establish|achieve|obtain)",
    re.IGNORECASE,
)
WEIGHTS = {"title": 1.0, "contribution": 0.35, "position": 0.15, "length": 0.1}


class PaperOut(BaseModel):
    paper: Paper
    tldr: str | None


def tldr_for(paper: Paper, index: SearchIndex) -> str | None:
    """The chosen sentence, verbatim; None only for a paper without sentences."""
    sentences = paper.sentences
    if not sentences:
        return None
    if len(sentences) == 1:
        return sentences[0]
    analyzer, idf, vocab = index.analyzer, index.scorer.idf, index.vocab
    title_terms = set(analyzer(paper.title))
    weight = {t: (float(idf[vocab[t]]) if t in vocab else 1.0) for t in title_terms}
    total = sum(weight.values()) or 1.0
    best, best_score = sentences[0], float("-inf")
    for position, sentence in enumerate(sentences):
        terms = set(analyzer(sentence))
        title = sum(w for t, w in weight.items() if t in terms) / total
        contribution = 1.0 if CONTRIBUTION.search(sentence) else 0.0
        early = 1.0 - position / len(sentences)
        words = len(sentence.split())
        length = 1.0 if 10 <= words <= 45 else 0.0
        score = (
            WEIGHTS["title"] * title
            + WEIGHTS["contribution"] * contribution
            + WEIGHTS["position"] * early
            + WEIGHTS["length"] * length
        )
        if score > best_score:
            best, best_score = sentence, score
    return best


def paper_with_tldr(paper: Paper, index: SearchIndex) -> PaperOut:
    return PaperOut(paper=paper, tldr=tldr_for(paper, index))


def render_paper_text(out: PaperOut) -> str:
    paper = out.paper
    authors = ", ".join(paper.authors[:10]) + (
        f" and {len(paper.authors) - 10} more" if len(paper.authors) > 10 else ""
    )
    lines = [paper.title or paper.id]
    if authors:
        lines.append(authors)
    meta = [paper.id]
    if paper.published:
        meta.append(dt.date.isoformat(paper.published))
    if paper.url:
        meta.append(paper.url)
    lines.append(" | ".join(meta))
    if out.tldr:
        lines += ["", f"TL;DR: {out.tldr}"]
    lines += ["", paper.abstract]
    return "\n".join(lines)
