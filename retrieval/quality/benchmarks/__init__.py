"""The quality measurements behind `paperbot eval`: retrieval, evidence sentences, TLDRs, answerability, feedback.

Each builds an in-memory index over the benchmark's own corpus, so nothing touches the
user's home. Figures and the commands that produce them are in the README.

One module per measurement (`ranking.py` for `eval retrieval`, `evidence.py`, `tldr.py`,
`answerability.py`, `feedback.py`), over the corpora and semantic stage they share (`corpora.py`).
"""

from __future__ import annotations

from retrieval.quality.benchmarks.answerability import (
    AnswerabilityCorpora,
    AnswerabilityReport,
    Rate,
    eval_answerability,
    nq_questions,
    scifact_claims,
    scitldr_questions,
)
from retrieval.quality.benchmarks.corpora import _corpus, _eval_stage, eval_vectors_home
from retrieval.quality.benchmarks.evidence import PRF, EvidenceScores, eval_evidence, rationale_counts
from retrieval.quality.benchmarks.feedback import FeedbackScores, eval_feedback
from retrieval.quality.benchmarks.ranking import RetrievalReport, eval_retrieval
from retrieval.quality.benchmarks.tldr import TldrScores, eval_tldr

__all__ = [
    "PRF",
    "AnswerabilityCorpora",
    "AnswerabilityReport",
    "EvidenceScores",
    "FeedbackScores",
    "Rate",
    "RetrievalReport",
    "TldrScores",
    "_corpus",
    "_eval_stage",
    "eval_answerability",
    "eval_evidence",
    "eval_feedback",
    "eval_retrieval",
    "eval_tldr",
    "eval_vectors_home",
    "nq_questions",
    "rationale_counts",
    "scifact_claims",
    "scitldr_questions",
]
