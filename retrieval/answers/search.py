"""Search requests with filters: BM25 hits joined with their paper records."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from corpus.store import Store
from corpus.store.reading import PaperBrief
from retrieval.lexical import proximity
from retrieval.lexical.index import SearchIndex
from retrieval.lexical.rerank import RerankOptions, search_papers

if TYPE_CHECKING:
    from retrieval.semantic.stage import SemanticStage

MAX_K = 100


class SearchRequest(BaseModel):
    query: str
    k: int = Field(default=10, ge=1, le=MAX_K)
    year_from: int | None = None
    year_to: int | None = None
    author: str | None = None
    rerank: bool = Field(
        default=False, description="re-order BM25's top hits with the second stage (retrieval/lexical/rerank.py)"
    )
    semantic: bool = Field(
        default=True,
        description="fuse BM25's top hits with the embedding model (retrieval/semantic/stage.py), when a stage is given and rerank is off",
    )


class SearchHit(BaseModel):
    paper_id: str
    score: float
    title: str
    url: str | None
    published: str | None
    authors: list[str] = Field(default_factory=list, exclude=True)


def run_search(
    index: SearchIndex, store: Store, request: SearchRequest, stage: SemanticStage | None = None
) -> list[SearchHit]:
    """Top-k papers for the request. The author filter is applied to records, widening the BM25 pool until k are found.

    With a semantic `stage` (and `request.semantic`, and no lexical rerank asked for), BM25's top `stage.depth`
    candidates are re-ordered by the fused score before the filter and the cut to k; otherwise BM25's top
    few are re-ordered by the question's word pairs (retrieval/lexical/proximity.py), as `ask` orders them.
    """
    wanted = request.author.casefold().strip() if request.author else None
    fuse = stage is not None and request.semantic and not request.rerank
    pool = request.k if not wanted else request.k * 10
    while True:
        if fuse:
            # BM25's top `depth` ids, fused, and only the records of the best `pool` read from the store
            first = max(pool, stage.depth)
            rows, scores = index.search_rows(request.query, first, request.year_from, request.year_to)
            bm25_count = len(rows)
            hits = stage.rank_rows(request.query, index, rows, scores).hits[:pool]
            papers = store.briefs([h.paper_id for h in hits])
        elif request.rerank:
            # the second stage reads the candidates' records to re-rank them
            first = pool
            hits, records = search_papers(
                request.query,
                first,
                index,
                store.get_many,
                RerankOptions(enabled=True),
                request.year_from,
                request.year_to,
            )
            papers = {paper_id: PaperBrief.of(paper) for paper_id, paper in records.items()}
            bm25_count = len(hits)
        else:
            # BM25, then the word-pair order of the top few as in `ask` (read from the index); only the records
            # of the `pool` hits kept are read
            first = max(pool, proximity.DEPTH)
            hits = index.search(request.query, first, request.year_from, request.year_to)
            bm25_count = len(hits)
            hits = proximity.by_pairs(request.query, hits, None, index)[:pool]
            papers = store.briefs([h.paper_id for h in hits])
        results = []
        for hit in hits:
            paper = papers.get(hit.paper_id)
            if paper is None:
                continue
            if wanted and not any(wanted in name.casefold() for name in paper.authors):
                continue
            results.append(
                SearchHit(
                    paper_id=paper.id,
                    score=round(hit.score, 6),
                    title=paper.title,
                    url=paper.url,
                    published=paper.published,
                    authors=paper.authors,
                )
            )
        if len(results) >= request.k or bm25_count < first:
            return results[: request.k]
        pool *= 4
