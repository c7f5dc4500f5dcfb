"""How likely a sentence is to be the evidence for a question: a small logistic model over lexical features.

No neural model: twelve features a reader would name (how much of the question's idf mass
the sentence holds, its rank among the abstract's sentences by that measure, bigrams
shared with the question, position, numbers and result words), weighted by a logistic
regression fitted on SciFact's train claims by `bench/train_selector.py`, which prints
the constants below. Measured in README ("Quality").
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from retrieval.analyzer import Analyzer

RESULT_WORDS = re.compile(
    r"\b(significant\w*|associat\w*|increas\w*|decreas\w*|reduc\w*|higher|lower|risk|ratio|odds|hazard|correlat\w*|"
    r"found|show\w*|demonstrat\w*|suggest\w*|reveal\w*|indicat\w*|result\w*|conclu\w*)\b|p\s*[<=]|\d+(\.\d+)?\s*%",
    re.IGNORECASE,
)
FEATURES = (
    "coverage",
    "density",
    "position",
    "is_first",
    "is_last",
    "has_number",
    "has_result_word",
    "length",
    "shared_bigrams",
    "coverage_vs_best",
    "inverse_rank",
    "is_top",
)
# Fitted on SciFact train (bench/train_selector.py); standardisation then weights, bias last.
MEAN = np.array([0.2338, 0.3059, 0.5, 0.1027, 0.1027, 0.534, 0.4913, 0.4794, 0.1504, 0.4098, 0.2901, 0.1027])
SCALE = np.array([0.2227, 0.2849, 0.3208, 0.3035, 0.3035, 0.4988, 0.4999, 0.2334, 0.2984, 0.3533, 0.2703, 0.3035])
WEIGHTS = np.array([-0.242, 0.325, 0.979, 0.046, -0.23, 0.193, 0.254, 0.35, 0.062, 0.434, 0.856, -0.307])
BIAS = -2.095


def sentence_features(
    question_terms: Sequence[str], term_weight: dict[str, float], sentences: Sequence[str], analyzer: Analyzer
) -> tuple[np.ndarray, np.ndarray]:
    """(features per sentence, coverage per sentence). `term_weight` maps question terms to idf."""
    total = sum(term_weight.values()) or 1.0
    question_bigrams = set(zip(question_terms, question_terms[1:], strict=False))
    n = len(sentences)
    rows, coverage = [], []
    for position, sentence in enumerate(sentences):
        terms = analyzer(sentence)
        present = set(terms)
        matched = sum(w for t, w in term_weight.items() if t in present)
        cov = matched / total
        coverage.append(cov)
        rows.append(
            [
                cov,
                matched / math.sqrt(max(len(terms), 4)) / math.sqrt(total),
                position / max(n - 1, 1),
                float(position == 0),
                float(position == n - 1),
                float(any(ch.isdigit() for ch in sentence)),
                float(bool(RESULT_WORDS.search(sentence))),
                min(len(sentence.split()), 80) / 50,
                min(len(question_bigrams & set(zip(terms, terms[1:], strict=False))), 5) / 3,
            ]
        )
    best = max(coverage, default=0.0) or 1.0
    rank = {i: r for r, i in enumerate(sorted(range(n), key=lambda i: -coverage[i]))}
    for i, row in enumerate(rows):
        row += [coverage[i] / best, 1 / (rank[i] + 1), float(rank[i] == 0)]
    return np.array(rows, dtype=np.float64).reshape(n, len(FEATURES)), np.array(coverage)


def evidence_probability(features: np.ndarray) -> np.ndarray:
    if len(features) == 0:
        return np.zeros(0)
    z = (features - MEAN) / SCALE
    return 1 / (1 + np.exp(-(z @ WEIGHTS + BIAS)))
