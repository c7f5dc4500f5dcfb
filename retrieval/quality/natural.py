"""`paperbot eval natural`: the product's answers to questions written the way researchers type them.

The set (../shared/data/natural_questions/, over SciTLDR train papers) has 187 answerable questions, each
with the shortest verbatim span of its paper's abstract that holds the asked fact (`fragment`), and 80
in-domain questions no abstract answers, of four kinds. Every question is answered over all 3,229 SciTLDR
papers through the product's own path (`answer_from_ranked`), and the table counts what a user would see:
is the first cited paper the one asked about, does the quote hold the asked fact, is an unanswerable
question kept from being answered with a quote.

The pinpoint model (retrieval/answers/pinpoint.py) and the lexical answer-or-abstain model
(retrieval/answers/answerability.py, which judges every question) were fitted with this set by its five folds
by paper (its `fold` field), and their files keep each fold's model: `eval_natural` answers each fold with the
models fitted without it, so every figure is out of fold. (The semantic answer-or-abstain model, which judges
statements in fused order, never saw these questions.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from retrieval.quality.benchmarks import AnswerabilityCorpora

KINDS = ("post2020", "missing-detail", "aggregate", "adjacent")


def fold_text(text: str) -> str:
    """Whitespace runs folded to one space and lower-cased: how the set's README says to match fragments."""
    return re.sub(r"\s+", " ", text).strip().lower()


def natural_questions(data_dir: Path) -> list[dict]:
    path = data_dir / "natural_questions" / "questions.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class Count(BaseModel):
    n: int
    of: int

    @property
    def rate(self) -> float:
        return self.n / self.of if self.of else 0.0

    def __str__(self) -> str:
        return f"{self.n}/{self.of} ({100 * self.rate:.1f}%)"


class NaturalReport(BaseModel):
    first_citation: Count  # answerable: the first cited paper (or the context paper of the third reply) is expected
    holds_fact: Count  # answerable: the quoted sentences hold the fragment
    how_holds_fact: Count
    refused: Count  # answerable: nothing found or the third reply
    unanswerable_kept: dict[str, Count]  # per kind: not answered with a quote
    missing_detail_third_reply: Count  # missing-detail: the third reply (or nothing found) — the same as kept
    search_hit_at_1: Count
    by_form: dict[str, Count]  # answerable: holds the fact, per question form
    semantic: str


def answer_natural(
    data_dir: Path,
    semantic: bool = False,
    models: Callable[[int], object] | None = None,
    corpora: AnswerabilityCorpora | None = None,
) -> list[tuple[dict, object, str | None]]:
    """(question record, the product's Answer, search's first paper) for every question of the set.

    `models(fold)`, when given, is called before the questions of that fold are answered (to swap in
    models fitted without it).
    """
    from retrieval.answers.answer import answer_from_ranked
    from retrieval.answers.sentences import AnswerOptions

    corpora = corpora or AnswerabilityCorpora(data_dir, semantic)
    if semantic and corpora.stage is None:
        raise ValueError(f"semantic stage {corpora.status}")
    options = AnswerOptions()
    questions = natural_questions(data_dir)
    corpora.encode([q["question"] for q in questions])
    out = []
    for fold in sorted({q["fold"] for q in questions}):
        if models is not None:
            models(fold)
        for q in (q for q in questions if q["fold"] == fold):
            ranked, index, view = corpora.ranked("scitldr", q["question"], options.papers)
            answer = answer_from_ranked(q["question"], ranked, index, options, view=view)
            by_id, index = corpora.corpus("scitldr")
            hits = index.search(q["question"], 1)
            out.append((q, answer, hits[0].paper_id if hits else None))
    return out


def first_cited(answer) -> str | None:
    """The paper a reply leads with: the first citation of an answer, else the context paper of a third reply."""
    if answer.citations:
        return answer.citations[0].paper_id
    return answer.closest[0].paper_id if answer.reply == "unstated" and answer.closest else None


def quoted(answer) -> bool:
    """Whether the reply presents sentences as the answer."""
    return bool(answer.found and answer.answer)


def score(results: list[tuple[dict, object, str | None]], semantic_status: str = "off") -> NaturalReport:
    answerable = [(q, a, hit) for q, a, hit in results if q["kind"] == "answerable"]

    def holds(q: dict, a) -> bool:
        return quoted(a) and fold_text(q["fragment"]) in fold_text(" ".join(s.text for s in a.answer))

    forms = sorted({q["form"] for q, _, _ in answerable})
    return NaturalReport(
        first_citation=Count(n=sum(first_cited(a) in q["expect"] for q, a, _ in answerable), of=len(answerable)),
        holds_fact=Count(n=sum(holds(q, a) for q, a, _ in answerable), of=len(answerable)),
        how_holds_fact=Count(
            n=sum(holds(q, a) for q, a, _ in answerable if q["form"] == "how"),
            of=sum(q["form"] == "how" for q, _, _ in answerable),
        ),
        refused=Count(n=sum(not quoted(a) for _, a, _ in answerable), of=len(answerable)),
        unanswerable_kept={
            kind: Count(
                n=sum(not quoted(a) for q, a, _ in results if q["kind"] == kind),
                of=sum(q["kind"] == kind for q, _, _ in results),
            )
            for kind in KINDS
        },
        missing_detail_third_reply=Count(
            n=sum(not quoted(a) for q, a, _ in results if q["kind"] == "missing-detail"),
            of=sum(q["kind"] == "missing-detail" for q, _, _ in results),
        ),
        search_hit_at_1=Count(n=sum(hit in q["expect"] for q, _, hit in answerable), of=len(answerable)),
        by_form={
            form: Count(
                n=sum(holds(q, a) for q, a, _ in answerable if q["form"] == form),
                of=sum(q["form"] == form for q, _, _ in answerable),
            )
            for form in forms
        },
        semantic=semantic_status,
    )


def eval_natural(data_dir: Path, semantic: bool = False) -> NaturalReport:
    """The table, out of fold: each fold's questions answered with the pinpoint model fitted without that fold."""
    from retrieval.answers import answerability, pinpoint

    def use_fold(fold: int | None) -> None:
        pinpoint.use_fold(fold)
        answerability.use_fold(fold)

    corpora = AnswerabilityCorpora(data_dir, semantic)
    try:
        results = answer_natural(data_dir, semantic, models=use_fold, corpora=corpora)
    finally:
        use_fold(None)
    return score(results, corpora.status)


def table(report: NaturalReport) -> str:
    """The issue's table: one row a figure."""
    rows = [
        ("answerable: first citation is the paper asked about", report.first_citation),
        ("answerable: the answer holds the asked fact", report.holds_fact),
        ("- `how` questions: the asked fact", report.how_holds_fact),
        ("answerable wrongly refused or given the third reply", report.refused),
        ("`missing-detail`: third reply or nothing found", report.missing_detail_third_reply),
        *(
            (f"`{kind}`: not answered with a quote", report.unanswerable_kept[kind])
            for kind in KINDS
            if kind != "missing-detail"
        ),
        ("search hit@1", report.search_hit_at_1),
    ]
    lines = ["| figure | value |", "| --- | --- |"] + [f"| {name} | {count} |" for name, count in rows]
    return "\n".join(lines)
