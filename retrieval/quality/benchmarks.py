"""The quality measurements behind `paperbot eval`: retrieval, evidence sentences and TLDRs.

Each builds an in-memory index over the benchmark's own corpus, so nothing touches the
user's home. Figures and the commands that produce them are in the README.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from corpus.feedback import FeedbackSet
from corpus.loaders import load_path
from corpus.models import Paper
from retrieval.answers.sentences import AnswerOptions, score_sentences, select_mmr
from retrieval.answers.tldr import tldr_for
from retrieval.lexical import proximity
from retrieval.lexical.index import SearchIndex
from retrieval.lexical.rerank import RerankOptions, search_papers
from retrieval.quality.evaluate import RetrievalScores, evaluate


@lru_cache(maxsize=4)
def _corpus(path: str) -> tuple[list[Paper], SearchIndex]:
    papers = load_path(path)
    return papers, SearchIndex.build(papers)


class RetrievalReport(BaseModel):
    """The stages on the same claims: BM25 alone, BM25's top `depth` re-ranked (retrieval/lexical/rerank.py), and
    BM25's top 1,000 fused with the embedding model (retrieval/semantic/stage.py; None when no model is installed)."""

    split: str
    queries: int
    bm25: RetrievalScores
    paired: RetrievalScores | None = None  # BM25 with its top few in word-pair order, as `ask` and `search` rank
    reranked: RetrievalScores
    depth: int
    fused: RetrievalScores | None = None
    semantic: str = ""


def eval_vectors_home() -> Path:
    """Where `eval retrieval` keeps the benchmark's paper vectors ($PAPERBOT_EVAL_CACHE or the per-user cache)."""
    import os

    import platformdirs

    return Path(os.environ.get("PAPERBOT_EVAL_CACHE") or platformdirs.user_cache_dir("paperbot")) / "eval"


def eval_retrieval(data_dir: Path, split: str = "test", depth: int = 200, semantic: bool = True) -> RetrievalReport:
    papers, index = _corpus(str(data_dir / "scifact" / "corpus.jsonl"))
    by_id = {p.id: p for p in papers}
    options = RerankOptions(depth=depth)

    def lookup(ids: list[str]) -> dict[str, Paper]:
        return {i: by_id[i] for i in ids}

    first = evaluate(lambda q: [h.paper_id for h in index.search(q, 100)], data_dir, split)

    def paired(q: str) -> list[str]:
        hits = index.search(q, 100)
        return [
            h.paper_id
            for h in proximity.by_pairs(q, hits, lookup([h.paper_id for h in hits[: proximity.DEPTH]]), index)
        ]

    second = evaluate(lambda q: [h.paper_id for h in search_papers(q, 100, index, lookup, options)[0]], data_dir, split)
    report = RetrievalReport(
        split=split,
        queries=first.queries,
        bm25=first,
        paired=evaluate(paired, data_dir, split),
        reranked=second,
        depth=depth,
    )
    if semantic:
        stage, report.semantic = _eval_stage(papers)
        if stage is not None:
            report.fused = evaluate(
                lambda q: [h.paper_id for h in stage.rerank(q, index.search(q, stage.depth))][:100],
                data_dir,
                split,
            )
    return report


def _eval_stage(papers: list[Paper], encode: bool = False):
    """The semantic stage over a benchmark corpus with its vectors from `eval_vectors_home()`, and a one-line status.

    Encoding SciFact's 5,183 abstracts takes minutes, so `eval retrieval` only uses vectors already there
    (`encode=True`, as `python -m retrieval.semantic eval-vectors` does, encodes the missing ones first).
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
            "`python -m retrieval.semantic eval-vectors` encodes them once (about ten minutes on two cores)"
        )
    return SemanticStage(encoder, vectors), f"{encoder.model_id}, weight {WEIGHT}, BM25 top 1,000"


class PRF(BaseModel):
    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, correct: int, predicted: int, gold: int) -> PRF:
        p = correct / predicted if predicted else 0.0
        r = correct / gold if gold else 0.0
        return cls(precision=round(p, 4), recall=round(r, 4), f1=round(2 * p * r / (p + r), 4) if p + r else 0.0)


class EvidenceScores(BaseModel):
    split: str
    claims: int
    given_gold_abstract: PRF
    end_to_end: PRF
    answered: int
    semantic: str = "off"


def rationale_counts(claim: dict, chosen: list) -> tuple[int, int, int]:
    """(correct, predicted, gold) rationale sentences of an answer to a SciFact claim, across all its papers."""
    gold = {(doc, i) for doc, ev in claim["evidence"].items() for r in ev["rationales"] for i in r}
    predicted = {(c.paper_id, c.position) for c in chosen}
    return len(predicted & gold), len(predicted), len(gold)


def eval_evidence(
    data_dir: Path, split: str = "dev", options: AnswerOptions | None = None, semantic: bool = False
) -> EvidenceScores:
    """Sentence-level P/R/F1 (micro) of answer sentences against SciFact's rationale sentences.

    With `semantic`, end to end (b) runs through the semantic stage (`semantic` in the result says whether it ran).
    """
    from retrieval.answers.answer import decide
    from retrieval.answers.retrieve import retrieve

    options = options or AnswerOptions()
    papers, index = _corpus(str(data_dir / "scifact" / "corpus.jsonl"))
    by_id = {p.id: p for p in papers}
    stage, status = _eval_stage(papers) if semantic else (None, "off")
    if semantic and stage is None:
        raise ValueError(f"semantic stage {status}")
    claims = [json.loads(line) for line in (data_dir / "scifact" / f"claims_{split}.jsonl").read_text().splitlines()]
    claims = [c for c in claims if c["evidence"]]
    gold_counts = [0, 0, 0]  # correct, predicted, gold   (a) given the gold abstract
    e2e_counts = [0, 0, 0]  # (b) end to end
    answered = 0
    for claim in claims:
        gold = {(doc, i) for doc, ev in claim["evidence"].items() for r in ev["rationales"] for i in r}
        # (a) sentences chosen from each gold abstract alone
        for doc in claim["evidence"]:
            paper = by_id[doc]
            picked = select_mmr(score_sentences(claim["claim"], [(paper, 1.0)], index, options), options)
            predicted = {(doc, c.position) for c in picked}
            doc_gold = {g for g in gold if g[0] == doc}
            gold_counts[0] += len(predicted & doc_gold)
            gold_counts[1] += len(predicted)
            gold_counts[2] += len(doc_gold)
        # (b) the full pipeline over the whole corpus
        ranked, view = retrieve(claim["claim"], index, lambda ids: {i: by_id[i] for i in ids}, options.papers, stage)
        chosen = decide(claim["claim"], ranked, index, options, view=view).chosen
        answered += chosen is not None
        for i, n in enumerate(rationale_counts(claim, chosen or [])):
            e2e_counts[i] += n
    return EvidenceScores(
        split=split,
        claims=len(claims),
        given_gold_abstract=PRF.of(*gold_counts),
        end_to_end=PRF.of(*e2e_counts),
        answered=answered,
        semantic=status,
    )


class TldrScores(BaseModel):
    split: str
    papers: int
    rouge1: float
    rouge2: float
    rougeL: float


def eval_tldr(data_dir: Path, split: str = "test") -> TldrScores:
    """ROUGE F (stemmed) of our TLDR against the best-matching gold TLDR of each SciTLDR-A paper."""
    from rouge_score import rouge_scorer

    path = data_dir / "scitldr" / f"{split}.jsonl"
    papers, index = _corpus(str(path))
    records = {r["paper_id"]: r for r in map(json.loads, path.read_text().splitlines())}
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for paper in papers:
        summary = tldr_for(paper, index) or ""
        scores = [scorer.score(target, summary) for target in records[paper.id]["target"]]
        for key in totals:
            totals[key] += max(s[key].fmeasure for s in scores)
    n = len(papers)
    return TldrScores(split=split, papers=n, **{k: round(100 * v / n, 2) for k, v in totals.items()})


# ---------------------------------------------------------------------------- answer or abstain


def scifact_claims(data_dir: Path, split: str) -> list[dict]:
    """SciFact claims with a `group`: claims that share a cited paper (transitively) share a group."""
    claims = [json.loads(line) for line in (data_dir / "scifact" / f"claims_{split}.jsonl").read_text().splitlines()]
    parent: dict[str, str] = {}

    def root(doc: str) -> str:
        while parent.setdefault(doc, doc) != doc:
            doc = parent[doc]
        return doc

    for claim in claims:
        docs = [str(d) for d in claim["cited_doc_ids"]] or [f"claim{claim['claim_id']}"]
        for doc in docs[1:]:
            parent[root(doc)] = root(docs[0])
    for claim in claims:
        docs = [str(d) for d in claim["cited_doc_ids"]] or [f"claim{claim['claim_id']}"]
        claim["group"] = f"scifact:{root(docs[0])}"
    return claims


def scitldr_questions(data_dir: Path, split: str) -> list[tuple[str, str]]:
    """(paper id, gold TLDR) for every TLDR of a SciTLDR split: "I remember a paper that …" questions."""
    path = data_dir / "scitldr" / f"{split}.jsonl"
    return [(r["paper_id"], t) for r in map(json.loads, path.read_text().splitlines()) for t in r["target"]]


def nq_questions(data_dir: Path, half: str) -> list[tuple[int, str]]:
    """NQ-open dev questions, split in two halves by a stable hash: `tune` (training) and `holdout` (reporting)."""
    import zlib

    lines = (data_dir / "nq_open" / "dev.jsonl").read_text().splitlines()
    wanted = {"tune": 0, "holdout": 1}[half]
    questions = [(i, json.loads(line)["question"]) for i, line in enumerate(lines)]
    return [(i, q) for i, q in questions if zlib.crc32(q.encode()) % 2 == wanted]


class AnswerabilityCorpora:
    """The bundled 13 papers, SciFact's 5,183 abstracts and all 3,229 SciTLDR papers, each indexed once.

    With `semantic`, papers come in the semantic stage's fused order (vectors from `eval_vectors_home()`;
    `stage` stays None, with `status` saying why, when the model or some vectors are missing).
    """

    def __init__(self, data_dir: Path, semantic: bool = False):
        self.data_dir = data_dir
        self._built: dict[str, tuple[dict[str, Paper], SearchIndex]] = {}
        self.stage = None
        self.status = "off"
        self.query_vectors: dict[str, np.ndarray] = {}
        if semantic:
            papers = [p for name in ("bundled", "scifact", "scitldr") for p in self.corpus(name)[0].values()]
            self.stage, self.status = _eval_stage(papers)

    def corpus(self, name: str) -> tuple[dict[str, Paper], SearchIndex]:
        if name not in self._built:
            if name == "bundled":
                from corpus.home import bundled_papers

                papers = bundled_papers()
            elif name == "scifact":
                papers = load_path(self.data_dir / "scifact" / "corpus.jsonl")
            else:
                papers = [
                    p for s in ("train", "dev", "test") for p in load_path(self.data_dir / "scitldr" / f"{s}.jsonl")
                ]
            self._built[name] = ({p.id: p for p in papers}, SearchIndex.build(papers))
        return self._built[name]

    def encode(self, questions: list[str]) -> None:
        """Encode many questions at once (batched by length: far faster than one by one)."""
        if self.stage is not None:
            todo = sorted({q for q in questions if q not in self.query_vectors})
            for start in range(0, len(todo), 256):
                chunk = todo[start : start + 256]
                self.query_vectors.update(zip(chunk, self.stage.encoder.encode(chunk), strict=True))

    def ranked(self, name: str, question: str, k: int = 5):
        """(papers best first with their scores, the corpus's index, the stage's view or None)."""
        from retrieval.answers.retrieve import retrieve

        by_id, index = self.corpus(name)
        ranked, view = retrieve(
            question, index, lambda ids: {i: by_id[i] for i in ids}, k, self.stage, self.query_vectors.get(question)
        )
        return ranked, index, view

    def features(self, name: str, question: str):
        from retrieval.answers.retrieve import answerability_row

        ranked, index, view = self.ranked(name, question, AnswerOptions().papers)
        return answerability_row(question, ranked, index, view)[0]


class Rate(BaseModel):
    questions: int
    answered: int
    rate: float

    @classmethod
    def of(cls, answered: int, questions: int) -> Rate:
        return cls(questions=questions, answered=answered, rate=round(answered / questions, 4) if questions else 0.0)


class AnswerabilityReport(BaseModel):
    """The answer-or-abstain figures, each on questions the model was not fitted on."""

    nq_holdout_bundled: Rate
    nq_holdout_scitldr: Rate
    nq_holdout_scifact: Rate
    scifact_dev_on_scitldr: Rate
    scitldr_test_answered: Rate
    scitldr_test_first_citation_is_source: Rate
    scitldr_test_search_hit_at_1: Rate
    closest_offered_nq_holdout_scitldr: Rate
    semantic: str = "off"


def eval_answerability(data_dir: Path, limit: int | None = None, semantic: bool = False) -> AnswerabilityReport:
    """`paperbot eval answerability`: run the product's answer path on held-out questions of each kind.

    With `semantic`, through the semantic stage (fused order, the semantic answerability model); `semantic`
    in the report says whether it ran.
    """
    from retrieval.answers.answer import decide

    corpora = AnswerabilityCorpora(data_dir, semantic)
    if semantic and corpora.stage is None:
        raise ValueError(f"semantic stage {corpora.status}")
    options = AnswerOptions()

    def run(name: str, questions: list[str]) -> list[tuple[bool, bool, str | None, str | None]]:
        """(answered, closest offered, first cited paper, top search hit) per question."""
        out = []
        corpora.encode(questions[:limit])
        for question in questions[:limit]:
            ranked, index, view = corpora.ranked(name, question, options.papers)
            verdict, chosen = decide(question, ranked, index, options, view=view)
            first = chosen[0].paper_id if chosen else None
            out.append(
                (chosen is not None, chosen is None and verdict.related, first, ranked[0][0].id if ranked else None)
            )
        return out

    nq = [q for _, q in nq_questions(data_dir, "holdout")]
    rates = {}
    for name in ("bundled", "scitldr", "scifact"):
        results = run(name, nq)
        rates[f"nq_holdout_{name}"] = Rate.of(sum(r[0] for r in results), len(results))
        if name == "scitldr":
            rates["closest_offered_nq_holdout_scitldr"] = Rate.of(sum(r[1] for r in results), len(results))
    claims = [c["claim"] for c in scifact_claims(data_dir, "dev")]
    rates["scifact_dev_on_scitldr"] = Rate.of(sum(r[0] for r in run("scitldr", claims)), len(claims[:limit]))
    tldrs = scitldr_questions(data_dir, "test")[:limit]
    results = run("scitldr", [t for _, t in tldrs])
    rates["scitldr_test_answered"] = Rate.of(sum(r[0] for r in results), len(results))
    rates["scitldr_test_first_citation_is_source"] = Rate.of(
        sum(r[2] == pid for r, (pid, _) in zip(results, tldrs, strict=True)), len(results)
    )
    rates["scitldr_test_search_hit_at_1"] = Rate.of(
        sum(r[3] == pid for r, (pid, _) in zip(results, tldrs, strict=True)), len(results)
    )
    return AnswerabilityReport(**rates, semantic=corpora.status)


# ---------------------------------------------------------------------------- feedback as evaluation


class FeedbackScores(BaseModel):
    """How the current build answers the questions people voted on."""

    thumbs_up: int
    still_given: int = Field(description="👍 answers given again, sentence for sentence")
    same_first_paper: int = Field(description="👍 answers whose first citation is still the same paper")
    thumbs_down: int
    changed: int = Field(description="👎 answers that are now different (other sentences, or no answer)")


def eval_feedback(votes: FeedbackSet, index: SearchIndex, store, stage=None) -> FeedbackScores:
    """Re-ask every voted question with today's index and models (through the semantic `stage` when given),
    and compare with what was judged."""
    from retrieval.answers.answer import answer_question

    up = still = same_first = down = changed = 0
    for vote in votes.votes:
        now = answer_question(vote.question, index, store, stage=stage)
        before = [s["text"] for s in vote.answer.get("answer", [])]
        again = [s.text for s in now.answer]
        if vote.vote == 1:
            up += 1
            still += now.found and again == before
            before_first = (vote.answer.get("citations") or [{}])[0].get("paper_id")
            same_first += bool(now.citations) and now.citations[0].paper_id == before_first
        else:
            down += 1
            changed += again != before
    return FeedbackScores(
        thumbs_up=up, still_given=still, same_first_paper=same_first, thumbs_down=down, changed=changed
    )
