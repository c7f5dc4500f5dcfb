"""`paperbot eval evidence`: the answer's sentences against SciFact's rationale sentences (precision, recall, F1).

Measured twice: given the gold abstract (sentence choice alone) and end to end (retrieval, then the answer).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from retrieval.answers.sentences import AnswerOptions, score_sentences, select_mmr
from retrieval.quality.benchmarks.corpora import _corpus, _eval_stage


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
