"""`paperbot eval answerability`: how often the product answers or abstains, on held-out questions of each kind.

Also the benchmark questions the answerability models are trained on (training/): SciFact claims grouped by
the papers they cite, SciTLDR's TLDRs as questions, and NQ-Open's dev questions in two stable halves.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from corpus.loaders import load_path
from corpus.models import Paper
from retrieval.answers.sentences import AnswerOptions
from retrieval.lexical.index import SearchIndex
from retrieval.quality.benchmarks.corpora import _eval_stage


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
            verdict, chosen = decide(question, ranked, index, options, view=view)[:2]
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
