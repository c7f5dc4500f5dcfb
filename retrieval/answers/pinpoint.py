"""Which sentence of a paper gives what a question asks — and whether any does.

The evidence trees (evidence.py) were fitted on SciFact claims: statements, whose best evidence is the
sentence that shares most of their words. A question is different: the sentence that shares most of
its words usually restates it ("We propose X for Y"), while the answer is the one that gives the asked
number, method, reason or finding, often with fewer of the question's words. This model reads the
question's form (question.py) beside each sentence's cues (a quantity, a result, a finding, a method,
a reason, a definition), what it adds beyond the question's words, whether it names what was asked
("how many layers" → "layers"), and the evidence trees' own probability.

Its probability orders a paper's sentences for a question; the first is quoted, and the others at or above
`second`. Whether the abstract gives what was asked at all is decided by `stating` (plain rules over the
figure or name asked for, which also pick the sentence an answer leads with; `states_asked` is its yes/no): a bar on this model's best probability caught no more missing details out of
fold and refused more answerable questions (training/train_pinpoint.py prints both).

Boosted trees fitted by `training/train_pinpoint.py` on the natural questions (../shared/data/
natural_questions: real questions, each with the verbatim span that answers it; its `missing-detail`
questions and the same abstracts with the answering sentence removed as the cases where none does),
five folds by paper. The file keeps each fold's model (`folds`), so `paperbot eval natural` answers every
question with a model that never saw its paper.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from retrieval.answers.evidence import TreeEnsemble
from retrieval.answers.question import CUES, QUANTITY, Form, asked_phrase
from retrieval.errors import ModelUnusable

MODEL_PATH = Path(__file__).with_name("pinpoint_model.json")
FORMS: tuple[Form, ...] = ("number", "how", "why", "yes-no", "what-is", "which", "paper")
FEATURES = (
    "evidence",
    "coverage",
    "coverage_vs_best",
    "inverse_rank",
    "position",
    "is_first",
    "is_last",
    "length",
    *(f"form_{f}" for f in FORMS),
    *(f"cue_{c}" for c in CUES),
    "quantities",
    "novel_share",
    "asked_share",
    "title_share",
    "paper_coverage",
    "best_coverage",
    "quantity_in_paper",
    "asked_in_paper",
    "evidence_vs_best",
    "sentences",
    "gives_kind",
    "gives_kind_in_paper",
)
# the cue that gives each form's kind of fact (a `paper` question is answered by the sentence that presents it)
KIND_CUE = {
    "number": "quantity",
    "how": "method",
    "why": "reason",
    "yes-no": "finding",
    "what-is": "definition",
    "which": "quantity",
    "paper": "intro",
}


def _content(terms: Sequence[str]) -> set[str]:
    return {t for t in terms if len(t) > 2 and not t.isdigit()}


def features(
    question: str,
    form: Form | None,
    question_weights: dict[str, float],
    asked_terms: Sequence[str],
    sentences: Sequence[str],
    sentence_terms: Sequence[Sequence[str]],
    title_terms: set[str],
    evidence_rows: np.ndarray,
    evidence: np.ndarray,
) -> np.ndarray:
    """One row of FEATURES per sentence of one paper, for one question.

    `question_weights` are the question's terms weighed by idf; `asked_terms` the analyzed words of what it
    asks for (`asked_phrase`); `evidence_rows` and `evidence` the evidence trees' features and probabilities.
    """
    n = len(sentences)
    if n == 0:
        return np.zeros((0, len(FEATURES)))
    total = sum(question_weights.values()) or 1.0
    asked = _content(asked_terms) - {"much", "mani", "many", "figur", "ask"}
    question_terms = set(question_weights)
    all_terms = set(title_terms).union(*map(set, sentence_terms))
    paper_coverage = sum(w for t, w in question_weights.items() if t in all_terms) / total
    coverage = evidence_rows[:, 0]
    best_coverage = float(coverage.max())
    quantities = [len(QUANTITY.findall(s)) for s in sentences]
    best_evidence = float(evidence.max()) or 1.0
    asked_in = [len(asked & set(terms)) / len(asked) if asked else 0.0 for terms in sentence_terms]
    form_row = [float(form == f) for f in FORMS]
    kind = CUES[KIND_CUE[form]] if form in KIND_CUE else None
    gives = [float(bool(kind.search(s))) if kind is not None else 0.0 for s in sentences]
    rows = []
    for i, (sentence, terms) in enumerate(zip(sentences, sentence_terms, strict=True)):
        content = _content(terms)
        cue = [float(bool(p.search(sentence))) for p in CUES.values()]
        rows.append(
            [
                float(evidence[i]),
                float(coverage[i]),
                float(evidence_rows[i, 9]),
                float(evidence_rows[i, 10]),
                float(evidence_rows[i, 2]),
                float(evidence_rows[i, 3]),
                float(evidence_rows[i, 4]),
                float(evidence_rows[i, 7]),
                *form_row,
                *cue,
                min(quantities[i], 6) / 3,
                len(content - question_terms) / len(content) if content else 0.0,
                asked_in[i],
                len(content & title_terms) / len(content) if content else 0.0,
                paper_coverage,
                best_coverage,
                float(any(quantities)),
                max(asked_in),
                float(evidence[i]) / best_evidence,
                min(n, 30) / 10,
                gives[i],
                max(gives),
            ]
        )
    return np.array(rows, np.float64)


class PinpointModel:
    """The trees, and the bar at or above which further sentences are quoted."""

    def __init__(self, data: dict):
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"pinpoint model: features {data['features']} do not match the code's {FEATURES}")
        self.trees = TreeEnsemble.from_json(data)
        self.second = float(data["second"])

    def probability(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0)
        margin = np.clip(self.trees.margin(rows), -50, 50)
        return 1 / (1 + np.exp(-margin))


@cache
def _file() -> dict:
    try:
        return json.loads(MODEL_PATH.read_text())
    except (OSError, ValueError) as exc:
        raise ModelUnusable.reading("pinpoint", MODEL_PATH, exc) from None


_override: list[PinpointModel] = []  # a fold's model while `paperbot eval natural` answers that fold


@cache
def _shipped() -> PinpointModel:
    try:
        return PinpointModel(_file())
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ModelUnusable.reading("pinpoint", MODEL_PATH, exc) from None


def model() -> PinpointModel:
    return _override[-1] if _override else _shipped()


def use_fold(fold: int | None) -> None:
    """Answer with the model fitted without `fold` of the natural questions (None: the shipped model again).

    For evaluation only: the file keeps each fold's trees and bars so figures can be measured out of fold.
    """
    _override.clear()
    if fold is not None:
        data = _file()
        _override.append(PinpointModel({**data, **data["folds"][str(fold)]}))


def asked_terms(question: str, form: Form | None, analyzer) -> list[str]:
    """The analyzed words of what the question asks for ("how many layers" → the term for "layers")."""
    phrase = asked_phrase(question, form)
    phrase = re.sub(r"^(?:how (?:many|much|\w+)(?: it changes)?|the|which|what)\b", " ", phrase, flags=re.I)
    return analyzer(phrase)


def squash(p: float) -> float:
    """A probability for display, rounded."""
    return round(float(p), 4) if math.isfinite(p) else 0.0


# ---------------------------------------------------------------------------- does the abstract state it at all

# comparatives and generic heads: the figure they ask for is written many ways ("3x", "in half the time")
_LOOSE = frozenset(
    "better faster slower larger smaller longer shorter higher lower fewer less more much mani many speedup speed improv gain "
    "reduct reduc save saving cut help figur ask answer number amount".split()
)
_NAMED = re.compile(r"(?<![\w-])(?:[A-Z][\w-]*[A-Z0-9][\w-]*|[A-Z][a-z]+(?:-[\w]+)?|[\w-]*\d[\w-]*)(?![\w-])")
_NUMBER_TOKEN = re.compile(
    r"(?<![\w.-])(?:\d+(?:[.,]\d+)*\s*(?:%|x\b|×|-?fold\b)?|x\s?\d+(?:\.\d+)?\b|O\([^)]*\)|(?:one|two|three|four|five|six|seven|eight|nine|ten|"
    r"twice|half|double|triple|hundreds?|thousands?|millions?|billions?|dozens?|orders? of magnitude)\b)",
    re.I,
)


# "how many layers": a count, which an abstract often writes in words ("three layers", "a two-stage method");
# any other figure (an accuracy, a perplexity, a rate) is written in digits, a multiple or a share.
_COUNT = re.compile(r"\bhow many\b|\bnumber of\b", re.I)
_NUMBER_WORD = re.compile(r"(?:one|two|three|four|five|six|seven|eight|nine|ten)\b", re.I)
_ENUMERATION = re.compile(r"\(\s*(?:\d|[ivx]+|[a-h])\s*\)|(?<![\w.])\d\)")  # "(1) …, (2) …", "1) …"


# a change stated as a share or a multiple: "from 51% to 90%", "3x faster", "an order of magnitude", "halves"
_CHANGE = re.compile(
    r"\d\s*%|\d\s*(?:x|×)(?!\w)|\d+(?:\.\d+)?-?fold\b|\btimes (?:faster|smaller|fewer|less|more|larger)\b|"
    r"\borders? of magnitude\b|\b(?:twice|half|halves|halving|double[sd]?|triple[sd]?)\b",
    re.I,
)


def _quantities(sentence: str, question: str) -> bool:
    """Whether a sentence states a figure that is not just a name the question already uses (ResNet-50, CIFAR-10).

    Enumeration marks ("(1)", "(ii)") are not figures; number words ("two dimensions", "three-stage") count only
    when the question asks how many.
    """
    asked = question.lower()
    counting = _COUNT.search(question) is not None
    sentence = _ENUMERATION.sub(" ", sentence)
    for match in _NUMBER_TOKEN.finditer(sentence):
        start = sentence.rfind(" ", 0, match.start()) + 1
        end = sentence.find(" ", match.end())
        token = sentence[start : end if end >= 0 else len(sentence)].strip(".,;:()[]").lower()
        if re.fullmatch(r"(?:19|20)\d\d", match.group(0).strip()):
            continue  # a year, a citation
        if not counting and _NUMBER_WORD.fullmatch(match.group(0).strip()):
            continue  # "two dimensions" answers no question about an accuracy or a rate
        if token and token in asked and not token.replace(".", "").isdigit():
            continue
        if re.fullmatch(r"[1-4]-?d", token):
            continue  # "3D environments", "2-D images": a kind of thing, not a figure
        if re.fullmatch(r"x\s?\d+(?:\.\d+)?|o\(.*", token):
            return True  # "x10 times longer", O(log T)
        if re.search(r"[a-z]", token) and re.search(r"\d", token) and not re.match(r"^[\d.,]+(%|x|×)?$", token):
            if re.match(r"^\d", token) is None:
                continue  # a digit inside a name (ResNet-56, GPT2, T5): not a figure
        return True
    return False


def states_asked(
    question: str,
    form: Form | None,
    sentences: Sequence[str],
    sentence_terms: Sequence[Sequence[str]],
    asked: Sequence[str],
) -> bool:
    """False when the abstract plainly lacks what the question asks for (see `stating`)."""
    found = stating(question, form, sentences, sentence_terms, asked)
    return found is None or bool(found)


def stating(
    question: str,
    form: Form | None,
    sentences: Sequence[str],
    sentence_terms: Sequence[Sequence[str]],
    asked: Sequence[str],
) -> list[int] | None:
    """The sentences that state what the question asks for; [] when none does; None when no rule applies.

    A `number` question needs a sentence with a figure, and when the question names what is measured ("how
    many layers", "what perplexity") that sentence must name at least half of it (or sit beside one that
    does). A `which` question ("which datasets…") needs a sentence about what it asks that names something
    the question does not (a capitalised name, a name with digits; not an author in a citation).
    Other forms are left to the model's bar.
    """
    if form not in ("number", "which"):
        return None
    wanted = {t for t in asked if t not in _LOOSE and len(t) > 1}

    def share(i: int) -> float:
        return len(wanted & set(sentence_terms[i])) / len(wanted) if wanted else 1.0

    if form == "number":
        with_figure = [i for i, s in enumerate(sentences) if _quantities(s, question)]
        if asked_phrase(question, form).startswith("how much it changes"):
            gains = [i for i in with_figure if _CHANGE.search(sentences[i])]
            if gains:
                return gains  # "how much does X improve Y": the headline gain, wherever the abstract puts it
        near = {j for i in range(len(sentences)) if share(i) >= 0.5 for j in (i - 1, i, i + 1)}
        return [i for i in with_figure if share(i) >= 0.5 or i in near]
    if not wanted:
        return None
    asked_words = {w.lower() for w in re.findall(r"[\w-]+", question)}
    found = []
    for i, sentence in enumerate(sentences):
        if share(i) >= 0.5:
            bare = re.sub(r"\([^()]*\b(?:19|20)\d\d[a-z]?\)", " ", sentence)  # citations name authors, not answers
            names = [m.group(0) for m in _NAMED.finditer(bare) if m.start() > 0]
            if any(n.lower() not in asked_words for n in names):
                found.append(i)
    return found
