"""Extractive answers: sentences copied from the top abstracts, each with a numbered citation.

Pipeline: BM25 picks the papers; every sentence of the papers scoring near the best is
given an evidence probability (retrieval/answers/evidence.py: idf coverage of the question,
rank in its abstract, position, result words) plus the paper's score; the best sentence
is kept, and others only when they are likely evidence too and the best paper clearly
leads the next (`min_lead`); MMR keeps the answer from repeating itself; citations are
numbered by first use.

Answer or abstain (retrieval/answers/answerability.py): before any sentence is chosen, a model
fitted on training splits judges from the question and the retrieved papers whether the
corpus holds an answer at all; when it does not, the answer is "nothing found", with the
closest papers only when they are plausibly related.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

from pydantic import BaseModel, Field

from corpus.models import Paper
from corpus.store import Store
from retrieval.answers.answerability import (
    Verdict,
    judge,
)
from retrieval.answers.retrieve import StageView, answerability_row, retrieve
from retrieval.answers.sentences import AnswerOptions, Candidate, score_sentences, select_mmr
from retrieval.lexical.analyzer import Analyzer
from retrieval.lexical.index import SearchIndex

if TYPE_CHECKING:
    from retrieval.semantic.stage import SemanticStage


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
        default=None,
        description="the question as searched, when misspelt words were corrected (retrieval/lexical/spelling.py)",
    )


class Decision(NamedTuple):
    verdict: Verdict
    chosen: list[Candidate] | None  # None when the verdict is to abstain


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
    question = index.respell(question)  # misspelt words corrected, as search did (retrieval/lexical/spelling.py)
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
    from retrieval.answers.answerability import MODEL_PATH as ANSWERABILITY
    from retrieval.answers.answerability import SEMANTIC_MODEL_PATH
    from retrieval.answers.evidence import MODEL_PATH as EVIDENCE

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
