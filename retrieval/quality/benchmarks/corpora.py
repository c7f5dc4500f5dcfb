"""The benchmarks' corpora, each indexed in memory once, and the semantic stage over them: what every measurement shares.

An index over the benchmark's own corpus, so nothing touches the user's home; the stage's paper vectors
live in a cache of their own (`eval_vectors_home`), since encoding a benchmark corpus takes minutes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from corpus.loaders import load_path
from corpus.models import Paper
from retrieval.lexical.index import SearchIndex


@lru_cache(maxsize=4)
def _corpus(path: str) -> tuple[list[Paper], SearchIndex]:
    papers = load_path(path)
    return papers, SearchIndex.build(papers)


def eval_vectors_home() -> Path:
    """Where `eval retrieval` keeps the benchmark's paper vectors ($PAPERBOT_EVAL_CACHE or the per-user cache)."""
    import os

    import platformdirs

    return Path(os.environ.get("PAPERBOT_EVAL_CACHE") or platformdirs.user_cache_dir("paperbot")) / "eval"


def _eval_stage(papers: list[Paper], encode: bool = False):
    """The semantic stage over a benchmark corpus with its vectors from `eval_vectors_home()`, and a one-line status.

    Encoding SciFact's 5,183 abstracts takes minutes, so `eval retrieval` only uses vectors already there
    (`encode=True`, as `paperbot eval vectors` does, encodes the missing ones first).
    """
    from retrieval.semantic.encoder import ModelUnavailable, load_encoder
    from retrieval.semantic.stage import WEIGHT, SemanticStage
    from retrieval.semantic.vectors import VectorBuilder, VectorStore, content_hash

    try:
        encoder = load_encoder()
    except ModelUnavailable as exc:
        return None, f"off: {exc}"
    vectors = VectorStore.for_model(eval_vectors_home(), encoder.model_id)
    if encode:
        VectorBuilder(vectors, encoder, lambda: [(p.id, p.title, p.abstract) for p in papers], batch=256).build_once()
    missing = len(vectors.missing((p.id, content_hash(p.title, p.abstract)) for p in papers))
    if missing:
        return None, (
            f"not measured: {missing} of {len(papers)} abstracts have no vector in {vectors.folder}; "
            "`paperbot eval vectors` encodes them once (10-20 minutes on two cores)"
        )
    return SemanticStage(encoder, vectors), f"{encoder.model_id}, weight {WEIGHT}, BM25 top 1,000"
