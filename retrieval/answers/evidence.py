"""How likely a sentence is to be the evidence for a question: boosted trees over lexical features.

No neural model: 22 features a reader would name (how much of the question's idf mass
the sentence holds, its rank among the abstract's sentences by that measure, what its
neighbours hold, bigrams shared with the question, position, the abstract's section
heading — RESULTS and CONCLUSIONS hold most evidence, METHODS little —, numbers and
result words). Their weighting is a small gradient-boosted tree ensemble fitted on
SciFact's train claims by `training/train_selector.py` (LightGBM, at training time only),
stored as plain arrays in `evidence_model.json` and evaluated here with numpy, so the
bot needs no compiled model library. Measured in README ("Quality").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from retrieval.errors import ModelUnusable

MODEL_PATH = Path(__file__).with_name("evidence_model.json")
RESULT_WORDS = re.compile(
    r"\b(significant\w*|associat\w*|increas\w*|decreas\w*|reduc\w*|higher|lower|risk|ratio|odds|hazard|correlat\w*|"
    r"found|show\w*|demonstrat\w*|suggest\w*|reveal\w*|indicat\w*|result\w*|conclu\w*)\b|p\s*[<=]|\d+(\.\d+)?\s*%",
    re.IGNORECASE,
)
# Structured abstracts name their sections in capitals at the start of a sentence.
SECTION_HEADING = re.compile(
    r"^\s*(BACKGROUND|INTRODUCTION|OBJECTIVES?|AIMS?|PURPOSE|CONTEXT|RATIONALE|IMPORTANCE|METHODS?|DESIGN|SETTING|"
    r"PARTICIPANTS|PATIENTS|MEASUREMENTS|INTERVENTIONS?|MAIN OUTCOME MEASURES?|MATERIALS? AND METHODS|METHODOLOGY|"
    r"RESULTS?|FINDINGS|CONCLUSIONS?|INTERPRETATION|SIGNIFICANCE|DISCUSSION)\b"
)
SECTION_KIND = {
    "RESULT": "results",
    "FINDING": "results",
    "CONCLUSION": "conclusions",
    "INTERPRETATION": "conclusions",
    "SIGNIFICANCE": "conclusions",
    "DISCUSSION": "conclusions",
    "METHOD": "methods",
    "DESIGN": "methods",
    "SETTING": "methods",
    "PARTICIPANT": "methods",
    "PATIENT": "methods",
    "MEASUREMENT": "methods",
    "INTERVENTION": "methods",
    "MAIN": "methods",
    "MATERIAL": "methods",
}
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
    "previous_coverage",
    "next_coverage",
    "in_results",
    "in_conclusions",
    "in_methods",
    "in_other_section",
    "abstract_sentences",
    "position_from_end",
    "share_covering_as_much",
    "is_second_last",
)


def section_of(sentences: Sequence[str]) -> list[str | None]:
    """The section each sentence sits in, from the last capitalised heading before it (None before any)."""
    current: str | None = None
    sections = []
    for sentence in sentences:
        heading = SECTION_HEADING.match(sentence)
        if heading:
            name = heading.group(1)
            current = next((kind for prefix, kind in SECTION_KIND.items() if name.startswith(prefix)), "other")
        sections.append(current)
    return sections


def sentence_features(
    question_terms: Sequence[str],
    term_weight: dict[str, float],
    sentences: Sequence[str],
    sentence_terms: Sequence[Sequence[str]],
) -> tuple[np.ndarray, np.ndarray]:
    """(features per sentence, coverage per sentence).

    `term_weight` maps question terms to idf; `sentence_terms` are the sentences' analyzed terms
    (the caller keeps them, for MMR's overlap, so each sentence is analyzed once).
    """
    total = sum(term_weight.values()) or 1.0
    question_bigrams = set(zip(question_terms, question_terms[1:], strict=False))
    n = len(sentences)
    rows, coverage = [], []
    for position, (sentence, terms) in enumerate(zip(sentences, sentence_terms, strict=True)):
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
    covered = np.array(coverage)
    sections = section_of(sentences)
    for i, row in enumerate(rows):
        row += [coverage[i] / best, 1 / (rank[i] + 1), float(rank[i] == 0)]
        row += [coverage[i - 1] if i > 0 else 0.0, coverage[i + 1] if i < n - 1 else 0.0]
        row += [float(sections[i] == kind) for kind in ("results", "conclusions", "methods", "other")]
        row += [n / 20, (n - 1 - i) / max(n - 1, 1), float((covered >= coverage[i] * 0.999).sum()) / n]
        row += [float(i == n - 2)]
    return np.array(rows, dtype=np.float64).reshape(n, len(FEATURES)), covered


class TreeEnsemble:
    """A boosted tree ensemble as flat arrays; `margin` walks every tree for every row at once.

    Node arrays per tree, padded to the same length: `feature`, `threshold`, and children
    `left`/`right` where a value < 0 means leaf number ~value. Rows go left when
    feature <= threshold (LightGBM's rule for numeric splits; our features are never NaN).
    """

    def __init__(
        self, feature: np.ndarray, threshold: np.ndarray, left: np.ndarray, right: np.ndarray, leaf: np.ndarray
    ):
        self.feature, self.threshold, self.left, self.right, self.leaf = feature, threshold, left, right, leaf

    @classmethod
    def from_json(cls, data: dict) -> TreeEnsemble:
        trees = data["trees"]
        width = max(max(len(t["feature"]) for t in trees), 1)
        leaves = max(len(t["leaf"]) for t in trees)

        def pad(key: str, size: int, fill: float, dtype) -> np.ndarray:
            return np.array([t[key] + [fill] * (size - len(t[key])) for t in trees], dtype)

        return cls(
            pad("feature", width, 0, np.int64),
            pad("threshold", width, 0.0, np.float64),
            pad("left", width, -1, np.int64),
            pad("right", width, -1, np.int64),
            pad("leaf", leaves, 0.0, np.float64),
        )

    def margin(self, x: np.ndarray) -> np.ndarray:
        """Sum over trees of each row's leaf value (the log-odds)."""
        n_trees = len(self.feature)
        trees = np.arange(n_trees)[None, :]
        node = np.zeros((len(x), n_trees), np.int64)  # every row starts at every tree's root
        leaf_of = np.full((len(x), n_trees), -1, np.int64)
        rows = np.arange(len(x))[:, None]
        active = np.ones_like(node, bool)
        while active.any():
            go_left = x[rows, self.feature[trees, node]] <= self.threshold[trees, node]
            child = np.where(go_left, self.left[trees, node], self.right[trees, node])
            reached = active & (child < 0)
            leaf_of[reached] = ~child[reached]
            active &= child >= 0
            node = np.where(active, child, node)
        return self.leaf[trees, leaf_of].sum(axis=1)


@cache
def _model() -> TreeEnsemble:
    try:
        return TreeEnsemble.from_json(json.loads(MODEL_PATH.read_text()))
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:  # one line at the CLI, not a traceback
        raise ModelUnusable.reading("evidence", MODEL_PATH, exc) from None


def evidence_probability(features: np.ndarray) -> np.ndarray:
    if len(features) == 0:
        return np.zeros(0)
    return 1 / (1 + np.exp(-_model().margin(features)))
