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
from collections import Counter
from functools import cache
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, Field

from corpus.models import Paper
from corpus.store import Store
from retrieval.answers import pinpoint
from retrieval.answers.answerability import FEATURES as LEXICAL_FEATURES
from retrieval.answers.answerability import PaperTerms, Verdict, judge, paper_terms, unknown_name
from retrieval.answers.evidence import evidence_probability, sentence_features
from retrieval.answers.question import (
    LEANS_BACK,
    Form,
    about_collection,
    asked_phrase,
    collection_topic,
    named_subject,
    question_form,
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


Reply = Literal["answer", "nothing", "unstated", "collection"]
KEYWORDS = 8  # words: a query this short is keywords, not a statement


class Answer(BaseModel):
    """`found` false means no sentence is presented as the answer: `answer` and `citations` are empty.

    `reply` says which of the four replies it is: `answer` (sentences with citations); `nothing` (the corpus
    holds no answer; `closest` lists the nearest papers when they are plausibly related); `unstated` (the
    paper asked about is found — first in `closest` — but its abstract does not give what was asked, named in
    `unstated`); `collection` (a question about the whole collection, which no single abstract answers:
    `topic` is what a search can count instead, `matches` how many papers it finds).
    """

    question: str
    found: bool
    reply: Reply = "nothing"
    answer: list[AnswerSentence]
    citations: list[Citation]
    closest: list[Citation] = []
    confidence: float = Field(default=0.0, description="the answer-or-abstain model's probability that it answers")
    read_as: str | None = Field(
        default=None,
        description="the question as searched, when misspelt words were corrected (retrieval/lexical/spelling.py)",
    )
    unstated: str | None = Field(default=None, description="third reply: what the abstract does not state")
    topic: str | None = Field(default=None, description="collection question: the topic a search can count")
    matches: int | None = Field(
        default=None, description="collection question: papers that use every word of the topic"
    )


class Decision(NamedTuple):
    verdict: Verdict
    chosen: list[Candidate] | None  # None when no sentence is quoted
    reply: Reply = "answer"
    unstated: str | None = None  # the third reply: what was asked, in the question's words


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
    if about_collection(question):  # no single abstract answers it: never a quote
        return Decision(Verdict(probability=0.0, answer=False, related=False), None, "collection")
    question = index.respell(question)  # misspelt words corrected, as search did (retrieval/lexical/spelling.py)
    asking = question_form(question) is not None or len(question.split()) <= KEYWORDS
    if asking and unknown_name(judged or question, index):  # not in statements: a TLDR may coin a name
        return Decision(Verdict(probability=0.0, answer=False, related=False), None, "nothing")
    row, terms = answerability_row(index.respell(judged or question), ranked, index, view)
    form = question_form(question)
    if form is not None and row is not None and len(row) > len(LEXICAL_FEATURES):
        # A question is judged on BM25's own score list by the lexical model even in fused order: the semantic
        # model was fitted on statements, and on the natural questions it refused more answerable questions
        # (3.2% against 2.1%) without keeping more unanswerable ones out (docs/quality.md).
        row = row[: len(LEXICAL_FEATURES)]
    verdict = judge(row)
    if not verdict.answer:
        return Decision(verdict, None, "nothing")
    if form is not None:  # a question that asks for a kind of fact: pinpoint it in the first paper
        paper = _introducing(question, ranked, index) if form == "what-is" else ranked[0][0]
        return _pinpointed(question, form, paper, index, options, terms, verdict)
    scores = [score for _, score in ranked]
    lead = (scores[0] - scores[1]) / scores[0] if len(scores) > 1 and scores[0] > 0 else 1.0
    if lead < (options.min_lead_fused if view is not None and view.fused else options.min_lead):
        options = options.model_copy(update={"max_sentences": 1})
    candidates = score_sentences(question, ranked, index, options, terms)
    candidates = [c for c in candidates if c.coverage > 0]
    if not candidates:
        return Decision(verdict.model_copy(update={"answer": False}), None, "nothing")
    first_paper = ranked[0][0].id if options.lead_with_top_paper else None
    return Decision(verdict, select_mmr(candidates, options, first_paper))


def _introducing(question: str, ranked: list[tuple[Paper, float]], index: SearchIndex) -> Paper:
    """For "what is X": the paper among the top five whose title names X itself ("Perceiver: …" for "what is the
    Perceiver architecture?", not "Perceiver IO: …"); else the first paper."""
    subject = named_subject(question)
    if subject:
        wanted = index.analyzer(subject)
        for paper, _ in ranked[:5]:
            name = paper.title.split(":")[0] if ":" in paper.title else None
            if name and wanted and index.analyzer(name) == wanted:
                return paper
    return ranked[0][0]


def _pinpointed(
    question: str,
    form: Form,
    paper: Paper,
    index: SearchIndex,
    options: AnswerOptions,
    terms: dict[str, PaperTerms],
    verdict: Verdict,
) -> Decision:
    """The first paper's sentences that give what the question asks (pinpoint.py), in the abstract's order;
    or the third reply when its abstract does not state it."""
    analyzer = index.analyzer
    if paper.id not in terms:
        terms[paper.id] = paper_terms(paper, analyzer)
    sentence_terms = terms[paper.id].sentences
    question_terms = analyzer(question)
    idf, vocab = index.scorer.idf, index.vocab
    weights = {t: float(idf[vocab[t]]) if t in vocab else 0.0 for t in Counter(question_terms)}
    if not paper.sentences or sum(weights.values()) <= 0:
        return Decision(verdict.model_copy(update={"answer": False}), None, "nothing")
    rows, coverage = sentence_features(question_terms, weights, paper.sentences, sentence_terms)
    asked = pinpoint.asked_terms(question, form, analyzer)
    x = pinpoint.features(
        question,
        form,
        weights,
        asked,
        paper.sentences,
        sentence_terms,
        terms[paper.id].title,
        rows,
        evidence_probability(rows),
    )
    model = pinpoint.model()
    p = model.probability(x)
    stating = pinpoint.stating(question, form, paper.sentences, sentence_terms, asked)
    if stating == []:
        return Decision(verdict, None, "unstated", asked_phrase(question, form))
    order = [int(i) for i in np.argsort(-p, kind="stable")]
    if stating:  # the answer leads with a sentence that gives the asked figure or name
        lead = max(stating, key=lambda i: p[i])
        order = [lead] + [i for i in order if i != lead]
    picked = [order[0]] + [i for i in order[1 : options.max_sentences] if p[i] >= model.second]
    lead = order[0]
    if lead > 0 and LEANS_BACK.search(paper.sentences[lead]) and lead - 1 not in picked:
        picked.append(lead - 1)  # "To achieve this, …" quoted with what "this" is
    chosen, used = [], 0
    for i in sorted(picked, key=lambda i: (i != lead and i != lead - 1, -p[i])):
        text = paper.sentences[i]
        if chosen and used + len(text) > options.max_chars:
            continue
        chosen.append(i)
        used += len(text) + 1
    return Decision(
        verdict,
        [
            Candidate(
                paper_id=paper.id,
                position=i,
                text=paper.sentences[i],
                terms=frozenset(sentence_terms[i]),
                relevance=float(p[i]),
                coverage=float(coverage[i]),
                probability=float(p[i]),
            )
            for i in sorted(chosen)
        ],
    )


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
    verdict, chosen, reply, unstated = decide(question, ranked, index, options, judged, view)
    read_as = index.read_as(question)
    if chosen is None:
        if reply == "unstated":  # the paper asked about, cited as context only
            closest = [_citation(1, ranked[0][0], ranked[0][1])]
        elif reply == "nothing" and verdict.related:
            closest = [_citation(n, paper, score) for n, (paper, score) in enumerate(ranked[:3], 1)]
        else:
            closest = []
        topic = collection_topic(question) if reply == "collection" else None
        return Answer(
            question=question,
            found=False,
            reply=reply,
            answer=[],
            citations=[],
            closest=closest,
            confidence=verdict.probability,
            read_as=read_as,
            unstated=unstated,
            topic=topic or None,
            matches=papers_with_all(topic, index) if topic else None,
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
        reply="answer",
        answer=sentences,
        citations=citations,
        confidence=verdict.probability,
        read_as=read_as,
    )


def unstated_line(answer: Answer, title: str) -> str:
    """The third reply in one sentence: the paper asked about, and what its abstract does not state."""
    return f"{title} is about this, but its abstract does not state {answer.unstated or 'what was asked'}."


def collection_line(answer: Answer, search: str) -> str:
    """The reply to a question about the whole collection, and what to do instead (`search`: the search command,
    "paperbot search" or "/search")."""
    text = (
        "That is a question about the whole collection: I answer from single abstracts, so I cannot count,"
        " rank or average across papers."
    )
    if answer.topic:
        n = answer.matches or 0
        text += (
            f" {n} paper{' uses' if n == 1 else 's use'} every word of {answer.topic!r};"
            f" `{search} {answer.topic}` lists the closest."
        )
    else:
        text += f" `{search}` with a topic lists the papers on it."
    return text


def papers_with_all(topic: str, index: SearchIndex) -> int:
    """How many papers hold every term of `topic` (its words as the analyzer stems them): an honest count of
    the papers on it, where a search's hit list also holds papers that share a single word."""
    vocab, postings = index.vocab, index.postings
    rows: np.ndarray | None = None
    for term in set(index.analyzer(topic)):
        if term not in vocab:
            return 0
        t = vocab[term]
        docs = np.asarray(postings.docs[postings.indptr[t] : postings.indptr[t + 1]])
        rows = docs if rows is None else np.intersect1d(rows, docs, assume_unique=True)
    return 0 if rows is None else int(np.asarray(postings.alive)[rows].sum())


def render_answer_text(answer: Answer) -> str:
    """Terminal form: the sentences with [n] markers, then the numbered references (and how the question was
    read, when misspelt words were corrected). The third reply and the collection reply quote nothing."""
    read_as = f"\n(Read as: {answer.read_as})" if answer.read_as else ""
    if answer.reply == "unstated" and answer.closest:
        c = answer.closest[0]
        year = f", {c.published.year}" if c.published else ""
        link = f" {c.url}" if c.url else ""
        return (
            unstated_line(answer, f"[1] {c.title or c.paper_id}")
            + "\nNothing in it is quoted as the answer; the full paper may say."
            + f"\n\n[1] {c.title or c.paper_id} ({c.paper_id}{year}){link}"
            + read_as
        )
    if answer.reply == "collection":
        return collection_line(answer, "paperbot search") + read_as
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
    from retrieval.answers.pinpoint import MODEL_PATH as PINPOINT

    return {
        "pinpoint_model": hashlib.sha256(PINPOINT.read_bytes()).hexdigest()[:12],
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
