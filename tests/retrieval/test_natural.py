"""A floor under the natural-questions table (docs/quality.md), out of fold, BM25 alone."""

from __future__ import annotations

from pathlib import Path

from retrieval.quality.natural import eval_natural, fold_text, natural_questions
from tests.conftest import need

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def test_natural_questions_floor():
    report = eval_natural(need(DATA / "natural_questions").parent)
    assert report.first_citation.rate >= 0.95
    assert report.holds_fact.rate >= 0.82
    assert report.how_holds_fact.n >= 20
    assert report.refused.rate <= 0.03
    assert report.missing_detail_third_reply.n >= 16
    assert report.unanswerable_kept["post2020"].n >= 17
    assert report.unanswerable_kept["aggregate"].n >= 19 and report.unanswerable_kept["adjacent"].n >= 19


def test_fragments_are_matched_as_the_set_says():
    questions = natural_questions(need(DATA / "natural_questions").parent)
    assert len(questions) == 267 and sum(q["kind"] == "answerable" for q in questions) == 187
    assert fold_text("A  B\n c") == "a b c"
