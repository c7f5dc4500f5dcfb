"""Which sentences to quote: each sentence of the top papers scored as evidence, then chosen by MMR.

Every sentence gets an evidence probability (evidence.py: idf coverage of the question, rank in its
abstract, position, result words) and the paper's score. This is how statements (a claim, a TLDR, keywords)
are answered; a question that asks for a kind of fact is answered by pinpoint.py instead; MMR keeps the answer from repeating itself under the sentence and character budgets.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from corpus.models import Paper
from retrieval.answers.answerability import (
    PaperTerms,
    paper_terms,
)
from retrieval.answers.evidence import evidence_probability, sentence_features
from retrieval.lexical.index import SearchIndex

if TYPE_CHECKING:
    pass


class AnswerOptions(BaseModel):
    max_sentences: int = Field(default=3, ge=1, le=10)
    max_chars: int = Field(default=600, ge=80, le=4000)
    papers: int = Field(default=5, ge=1, le=20, description="how many top papers to read sentences from")
    doc_weight: float = Field(default=2.0, ge=0, description="weight of the paper's BM25 score beside the sentence's")
    min_doc_share: float = Field(
        default=0.95, ge=0, le=1, description="read papers scoring at least this share of the best"
    )
    min_probability: float = Field(
        default=0.3, ge=0, le=1, description="sentences after the first need this evidence probability"
    )
    mmr_lambda: float = Field(default=0.7, ge=0, le=1)
    min_lead: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="more than one sentence only when the best paper's BM25 score leads the next by this share",
    )
    min_lead_fused: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="min_lead for papers in the semantic stage's fused order: none, as the fused first paper is"
        " right more often (SciFact train, out-of-fold evidence models: F1 (b) 0.459 at 0, 0.451 at 0.1)",
    )
    lead_with_top_paper: bool = Field(
        default=True, description="the first sentence comes from search's first paper (see select_mmr)"
    )


class Candidate(BaseModel):
    paper_id: str
    position: int
    text: str
    terms: frozenset[str]
    relevance: float
    coverage: float
    probability: float


def score_sentences(
    question: str,
    hits: list[tuple[Paper, float]],
    index: SearchIndex,
    options: AnswerOptions,
    terms: dict[str, PaperTerms] | None = None,
) -> list[Candidate]:
    """Every sentence of the hit papers with its relevance to the question (`terms`: papers already analyzed)."""
    analyzer, idf, vocab = index.analyzer, index.scorer.idf, index.vocab
    terms = {} if terms is None else terms
    question_terms = analyzer(question)
    weights = {t: float(idf[vocab[t]]) if t in vocab else 0.0 for t in Counter(question_terms)}
    total = sum(weights.values())
    if not hits or total <= 0:
        return []
    # the first paper is always read (the word-pair order can put a paper BM25 scores lower first); the others
    # when they score near the best
    best_doc = max(score for _, score in hits) or 1.0
    candidates = []
    for rank, (paper, doc_score) in enumerate(hits):
        if rank > 0 and doc_score < options.min_doc_share * best_doc:
            continue
        if paper.id not in terms:
            terms[paper.id] = paper_terms(paper, analyzer)
        sentence_terms = terms[paper.id].sentences
        features, coverage = sentence_features(question_terms, weights, paper.sentences, sentence_terms)
        probability = evidence_probability(features)
        for position, sentence in enumerate(paper.sentences):
            candidates.append(
                Candidate(
                    paper_id=paper.id,
                    position=position,
                    text=sentence,
                    terms=frozenset(sentence_terms[position]),
                    relevance=float(probability[position]) + options.doc_weight * doc_score / best_doc,
                    coverage=float(coverage[position]),
                    probability=float(probability[position]),
                )
            )
    return candidates


def select_mmr(candidates: list[Candidate], options: AnswerOptions, lead_paper: str | None = None) -> list[Candidate]:
    """Maximal marginal relevance under the sentence and character budgets.

    With `lead_paper`, the first sentence is that paper's best: the answer's first citation is
    then search's first hit, so the answer never loses what search found.
    """
    chosen: list[Candidate] = []
    pool = sorted(candidates, key=lambda c: (lead_paper is not None and c.paper_id != lead_paper, -c.relevance))
    if pool:  # the best sentence always; the others only when they are likely evidence too
        pool = pool[:1] + [c for c in pool[1:] if c.probability >= options.min_probability]
    used = 0
    if pool and lead_paper is not None and pool[0].paper_id == lead_paper:
        chosen.append(pool.pop(0))  # MMR alone may open with another paper's sentence of higher relevance
        used = len(chosen[0].text) + 1
    while pool and len(chosen) < options.max_sentences:

        def mmr(c: Candidate) -> float:
            overlap = max((_jaccard(c.terms, s.terms) for s in chosen), default=0.0)
            return options.mmr_lambda * c.relevance - (1 - options.mmr_lambda) * overlap

        best = max(pool, key=mmr)
        pool.remove(best)
        if chosen and used + len(best.text) > options.max_chars:
            continue
        chosen.append(best)
        used += len(best.text) + 1
    return chosen


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
