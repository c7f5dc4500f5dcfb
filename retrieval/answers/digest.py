"""What goes into a digest: new papers, filtered and ranked by a channel's subscriptions.

With keywords, papers are ranked by their BM25 score for the keywords (the same first
stage as search); with authors, a paper with a matching author is kept too. Without
subscriptions, newest first. Each item carries the same one-line TLDR as /paper.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from corpus.models import Paper
from retrieval.answers.tldr import tldr_for
from retrieval.lexical.index import SearchIndex

MAX_ITEMS = 40


class DigestItem(BaseModel):
    paper_id: str
    title: str
    url: str | None
    authors: list[str]
    tldr: str | None
    published: dt.date | None = None


class Digest(BaseModel):
    date: dt.date
    papers: list[DigestItem]
    left_out: int = 0


def select_papers(
    papers: list[Paper], index: SearchIndex, keywords: list[str] | None = None, authors: list[str] | None = None
) -> list[Paper]:
    """The papers a channel wants, best first."""
    keywords = [k for k in (keywords or []) if k.strip()]
    wanted_authors = [a.casefold().strip() for a in (authors or []) if a.strip()]
    if not keywords and not wanted_authors:
        return sorted(papers, key=lambda p: (p.published or dt.date.min, p.id), reverse=True)
    scores = index.scores(" ".join(keywords)) if keywords else None
    ranked: list[tuple[float, Paper]] = []
    for paper in papers:
        score = 0.0
        if scores is not None and paper.id in index.rows:
            score = float(scores[index.rows[paper.id]])
        author_hit = any(w in name.casefold() for w in wanted_authors for name in paper.authors)
        if score > 0 or author_hit:
            ranked.append((score + (1000.0 if author_hit else 0.0), paper))
    ranked.sort(key=lambda pair: (-pair[0], pair[1].id))
    return [paper for _, paper in ranked]


def build_digest(day: dt.date, papers: list[Paper], index: SearchIndex, limit: int = MAX_ITEMS) -> Digest:
    items = [
        DigestItem(
            paper_id=p.id,
            title=p.title or p.id,
            url=p.url,
            authors=p.authors,
            tldr=tldr_for(p, index),
            published=p.published,
        )
        for p in papers[:limit]
    ]
    return Digest(date=day, papers=items, left_out=max(0, len(papers) - limit))
