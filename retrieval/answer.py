"""Extractive answers: sentences copied from the top abstracts, each with a numbered citation.

Pipeline: BM25 picks the papers; every sentence of the papers scoring near the best is
given an evidence probability (retrieval/evidence.py: idf coverage of the question,
rank in its abstract, position, result words) plus the paper's score; the best sentence
is kept, and others only when they are likely evidence too and the best paper clearly
leads the next (`min_lead`); MMR keeps the answer from repeating itself; citations are
numbered by first use.

Answer or abstain (retrieval/answerability.py): before any sentence is chosen, a model
fitted on training splits judges from the question and the retrieved papers whether the
corpus holds an answer at all; when it does not, the answer is "nothing found", with the
closest papers only when they are plausibly related.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import weakref
from collections import Counter
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from pydantic import BaseModel, Field

from corpus.models import Paper
from corpus.store import Store
from retrieval import proximity
from retrieval.analyzer import Analyzer
from retrieval.answer_type import gives, wanted_kind
from retrieval.answerability import (
    PaperTerms,
    Verdict,
    features,
    judge,
    paper_terms,
    question_weights,
    semantic_features,
)
from retrieval.evidence import evidence_probability, sentence_features
from retrieval.index import Hit, SearchIndex

if TYPE_CHECKING:
    from retrieval.semantic import SemanticStage


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
    kind_bonus: float = Field(
        default=0.25, ge=0, description="added to a sentence that gives the kind of answer asked for (answer_type.py)"
    )
    lead_with_top_paper: bool = Field(
        default=True, description="the first sentence comes from search's first paper (see select_mmr)"
    )


class AnswerSentence(BaseModel):
    text: str
    citation: int


class Citation(BaseModel):
    n: int
    paper_id: str
    title: str
    url: str | None
    published: dt.date | None
    score: float


class Answer(BaseModel):
    """`found` false means the corpus holds no answer: `answer` and `citations` are empty, and `closest`
    lists the nearest papers when they are plausibly related (empty for a question far from the corpus)."""

    question: str
    found: bool
    answer: list[AnswerSentence]
    citations: list[Citation]
    closest: list[Citation] = []
    confidence: float = Field(default=0.0, description="the answer-or-abstain model's probability that it answers")
    read_as: str | None = Field(
        default=None, description="the question as searched, when misspelt words were corrected (retrieval/spelling.py)"
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
    kind = wanted_kind(question)
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
                    relevance=float(probability[position])
                    + options.doc_weight * doc_score / best_doc
                    + options.kind_bonus * gives(kind, sentence),
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


class Decision(NamedTuple):
    verdict: Verdict
    chosen: list[Candidate] | None  # None when the verdict is to abstain


_MAX_IDF: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # scorer -> its highest idf


class StageView(NamedTuple):
    """BM25's own list, for answer-or-abstain, when the papers come in another order: the word-pair order
    (retrieval/proximity.py) or the semantic stage's fused order, which also brings the cosines."""

    bm25_top: list[float]  # BM25's own best scores, in its order (up to 5)
    bm25_top_id: str  # BM25's first paper
    cosine: dict[str, float] | None = None  # fused order: candidates' cosines to the question (those with a vector)

    @property
    def fused(self) -> bool:
        return self.cosine is not None


def retrieve(
    question: str,
    index: SearchIndex,
    get_many: Callable[[list[str]], dict[str, Paper]],
    k: int,
    stage: SemanticStage | None = None,
    query_vector: np.ndarray | None = None,
) -> tuple[list[tuple[Paper, float]], StageView | None]:
    """The top k papers, best first: BM25's, or with a semantic `stage` BM25's top `stage.depth` in fused order.

    The fused order and the semantic answer-or-abstain model are used only when the papers they weigh (the
    fused top k, BM25's top 5) all have vectors; until then the question is answered as without the stage.

    `get_many` reads paper records by id (`Store.get_many`); `query_vector`, if already encoded, saves encoding.
    """
    if stage is None:
        return _lexical(question, index.search(question, max(k, proximity.DEPTH)), index, get_many, k)
    hits = index.search(question, stage.depth)
    if not hits:
        return [], None
    ranking = stage.rank(question, hits, query_vector)
    if any(h.paper_id not in ranking.cosine for h in ranking.hits[:k] + hits[:5]):
        # a paper that matters here has no vector yet (being encoded): BM25 alone, judged by the lexical model
        return _lexical(question, hits[: max(k, proximity.DEPTH)], index, get_many, k)
    view = StageView([h.score for h in hits[:5]], hits[0].paper_id, ranking.cosine)
    return ranked_papers(ranking.hits[:k], get_many), view


def _lexical(
    question: str, hits: list[Hit], index: SearchIndex, get_many: Callable[[list[str]], dict[str, Paper]], k: int
) -> tuple[list[tuple[Paper, float]], StageView | None]:
    """BM25's hits in word-pair order (retrieval/proximity.py), the top k as (paper, BM25 score), and BM25's own list."""
    if not hits:
        return [], None
    papers = get_many([h.paper_id for h in hits])
    ordered = proximity.by_pairs(question, hits, papers, index)[:k]
    view = StageView([h.score for h in hits[:5]], hits[0].paper_id)
    return [(papers[h.paper_id], h.score) for h in ordered if h.paper_id in papers], view


def answerability_row(
    question: str, ranked: list[tuple[Paper, float]], index: SearchIndex, view: StageView | None = None
) -> tuple[np.ndarray | None, dict[str, PaperTerms]]:
    """The answer-or-abstain features (None: nothing to judge) and the top papers' analyzed terms, kept for reuse.

    With a `view` the score-shape features come from BM25's own list; in fused order the semantic features
    follow (retrieval/answerability.py SEMANTIC_FEATURES).
    """
    analyzer = index.analyzer
    terms = {paper.id: paper_terms(paper, analyzer) for paper, _ in ranked[:3]}
    scorer = index.scorer
    if scorer not in _MAX_IDF:  # once per index state: a full pass over the vocabulary
        _MAX_IDF[scorer] = float(scorer.idf.max()) if len(scorer.idf) else 1.0
    row = features(
        question_weights(question, analyzer),
        ranked,
        [terms[paper.id] for paper, _ in ranked[:3]],
        index.vocab,
        scorer.idf,
        _MAX_IDF[scorer],
        index.params.k1,
        index.postings.n_docs,
        None if view is None else view.bm25_top,
    )
    if row is not None and view is not None and view.cosine is not None:
        known = [view.cosine[p.id] for p, _ in ranked[:5] if p.id in view.cosine]
        fallback = float(np.mean(known)) if known else 0.0  # not encoded yet: an ordinary candidate
        cosines = [view.cosine.get(p.id, fallback) for p, _ in ranked[:5]]
        extra = semantic_features(
            cosines,
            view.cosine.get(view.bm25_top_id, fallback),
            [score for _, score in ranked[:5]],
            ranked[0][0].id == view.bm25_top_id,
        )
        row = np.concatenate([row, extra])
    return row, terms


def decide(
    question: str,
    ranked: list[tuple[Paper, float]],
    index: SearchIndex,
    options: AnswerOptions,
    judged: str | None = None,
    view: StageView | None = None,
) -> Decision:
    """Answer or abstain, then the answer's sentences from the ranked papers (best first).

    When the best paper barely leads the next (`min_lead`), BM25 cannot tell which one
    answers, and the answer shrinks to its single best sentence instead of three that may
    all come from the wrong paper (on SciFact train, with out-of-fold evidence models, this
    took end-to-end evidence F1 from 0.439 to 0.450; see README "Quality"). In fused order the rule's
    bar is `min_lead_fused` (none by default: the fused first paper is right more often).

    `judged` is the text answer-or-abstain weighs when it is not the question itself (a follow-up is
    judged with the conversation's earlier questions; its sentences are still chosen by its own words).
    `view`: BM25's own list when `ranked` is in another order, with the semantic stage's signals in fused order
    (see `retrieve`).
    """
    question = index.respell(question)  # misspelt words corrected, as search did (retrieval/spelling.py)
    row, terms = answerability_row(index.respell(judged or question), ranked, index, view)
    verdict = judge(row)
    if not verdict.answer:
        return Decision(verdict, None)
    candidates = score_sentences(question, ranked, index, options, terms)
    candidates = [c for c in candidates if c.coverage > 0]
    if not candidates:
        return Decision(verdict.model_copy(update={"answer": False}), None)
    scores = [score for _, score in ranked]
    lead = (scores[0] - scores[1]) / scores[0] if len(scores) > 1 and scores[0] > 0 else 1.0
    if lead < (options.min_lead_fused if view is not None and view.fused else options.min_lead):
        options = options.model_copy(update={"max_sentences": 1})
    first_paper = ranked[0][0].id if options.lead_with_top_paper else None
    return Decision(verdict, select_mmr(candidates, options, first_paper))


def _citation(n: int, paper: Paper, score: float) -> Citation:
    return Citation(
        n=n, paper_id=paper.id, title=paper.title, url=paper.url, published=paper.published, score=round(score, 6)
    )


def answer_question(
    question: str,
    index: SearchIndex,
    store: Store,
    options: AnswerOptions | None = None,
    stage: SemanticStage | None = None,
) -> Answer:
    """Retrieve (with the semantic `stage` when given), select and cite. Never returns a sentence that is not
    verbatim in its cited abstract."""
    options = options or AnswerOptions()
    ranked, view = retrieve(question, index, store.get_many, options.papers, stage)
    return answer_from_ranked(question, ranked, index, options, view=view)


def ranked_papers(hits: list[Hit], get_many: Callable[[list[str]], dict[str, Paper]]) -> list[tuple[Paper, float]]:
    """Hits as (paper, score), best first; a hit whose paper left the store meanwhile is dropped.

    `get_many` reads records by id (`Store.get_many`, or a dict's lookup for an in-memory corpus)."""
    papers = get_many([h.paper_id for h in hits])
    return [(papers[h.paper_id], h.score) for h in hits if h.paper_id in papers]


def answer_from_ranked(
    question: str,
    ranked: list[tuple[Paper, float]],
    index: SearchIndex,
    options: AnswerOptions,
    judged: str | None = None,
    view: StageView | None = None,
) -> Answer:
    """Answer or abstain from papers already ranked (best first): sentences chosen and cited."""
    papers = {paper.id: paper for paper, _ in ranked}
    verdict, chosen = decide(question, ranked, index, options, judged, view)
    read_as = index.read_as(question)
    if chosen is None:
        closest = (
            [_citation(n, paper, score) for n, (paper, score) in enumerate(ranked[:3], 1)] if verdict.related else []
        )
        return Answer(
            question=question,
            found=False,
            answer=[],
            citations=[],
            closest=closest,
            confidence=verdict.probability,
            read_as=read_as,
        )
    scores = {paper.id: score for paper, score in ranked}
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    sentences: list[AnswerSentence] = []
    for candidate in chosen:
        if candidate.paper_id not in numbers:
            numbers[candidate.paper_id] = len(numbers) + 1
            citations.append(
                _citation(numbers[candidate.paper_id], papers[candidate.paper_id], scores[candidate.paper_id])
            )
        sentences.append(AnswerSentence(text=candidate.text, citation=numbers[candidate.paper_id]))
    return Answer(
        question=question,
        found=True,
        answer=sentences,
        citations=citations,
        confidence=verdict.probability,
        read_as=read_as,
    )


def render_answer_text(answer: Answer) -> str:
    """Terminal form: the sentences with [n] markers, then the numbered references (and how the question was
    read, when misspelt words were corrected)."""
    read_as = f"\n(Read as: {answer.read_as})" if answer.read_as else ""
    if not answer.found:
        shown = answer.question if len(answer.question) <= 200 else answer.question[:200] + "…"
        text = f"I found nothing in the corpus that answers {shown!r}."
        if answer.closest:
            text += "\nThe closest papers, which may not answer it:\n" + "\n".join(
                f"  {c.title or c.paper_id} ({c.paper_id}){' ' + c.url if c.url else ''}" for c in answer.closest
            )
        return text + "\nTry `paperbot search` with other words." + read_as
    body = " ".join(f"{s.text} [{s.citation}]" for s in answer.answer)
    refs = []
    for c in answer.citations:
        year = f", {c.published.year}" if c.published else ""
        link = f" {c.url}" if c.url else ""
        refs.append(f"[{c.n}] {c.title or c.paper_id} ({c.paper_id}{year}){link}")
    return body + "\n\n" + "\n".join(refs) + read_as


def answer_versions(index: SearchIndex) -> dict[str, str]:
    """What produced an answer: the package, the index state and the models' fingerprints (kept with feedback)."""
    return {"paperbot": _package_version(), "index_seq": str(index.seq), **_model_fingerprints()}


@cache
def _model_fingerprints() -> dict[str, str]:
    from retrieval.answerability import MODEL_PATH as ANSWERABILITY
    from retrieval.answerability import SEMANTIC_MODEL_PATH
    from retrieval.evidence import MODEL_PATH as EVIDENCE

    return {
        "answerability_model": hashlib.sha256(ANSWERABILITY.read_bytes()).hexdigest()[:12],
        "answerability_semantic_model": hashlib.sha256(SEMANTIC_MODEL_PATH.read_bytes()).hexdigest()[:12],
        "evidence_model": hashlib.sha256(EVIDENCE.read_bytes()).hexdigest()[:12],
        "analyzer": json.dumps(Analyzer().config(), sort_keys=True),
    }


def _package_version() -> str:
    try:
        return importlib.metadata.version("paperbot")
    except importlib.metadata.PackageNotFoundError:
        return "checkout"
