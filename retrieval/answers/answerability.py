"""Answer or abstain: does the corpus hold an answer to this question, judging by what retrieval found?

BM25 always returns *something*; the question is whether it is about what was asked.
The old rule (the best sentence holds 35% of the question's idf mass) measured only the
question's *known* vocabulary: words the corpus never uses ("football", "buttermilk",
"filibuster") had idf 0 and vanished, so a few generic leftovers cleared the bar, and
the bar moved with corpus size.

Here every question word is weighed against general English as well (`wordfreq`'s
word frequencies, shipped inside its package): a word is informative when it is rare
in English ("normalisation", "transformer", "tarkin"), whatever this corpus holds, and a
word the corpus has never seen counts as *unmatched content*, not as nothing. The
features (below) are shares and ratios that mean the same on 13 papers and on a
million: how much of the question's informative mass the best abstract and its best
sentence hold, whether its rarest words are matched, how many informative words are
left unmatched, the top BM25 score against the most the question could score, and the
shape of the score list (gap to the second paper, normalised query commitment — the
spread of the top scores, Shtok et al. 2012 —, the top-5 mean against the top score,
as in weighted information gain). The question's *form* (who/what/how) is deliberately
not a feature: all training positives are statements and most negatives questions, so
a model given the form would learn to refuse every question.

Boosted trees over these features (LightGBM at training time, a numpy walker at answer time), fitted by `training/train_answerability.py` on
training splits only (grouped cross-validation: claims sharing a paper, a TLDR's paper,
an NQ question across corpora each in one fold), is stored in `answerability_model.json`.
Figures and data are in the README ("Answer or abstain").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel

from corpus.models import Paper
from retrieval.answers.evidence import TreeEnsemble
from retrieval.errors import ModelUnusable
from retrieval.lexical.analyzer import Analyzer
from retrieval.lexical.spelling import english_zipf

MODEL_PATH = Path(__file__).with_name("answerability_model.json")
SEMANTIC_MODEL_PATH = Path(__file__).with_name("answerability_semantic_model.json")
RARE = 3.5  # informativeness of a word at most ~30 times per million English words (Zipf <= 4.5)
FEATURES = (
    "doc_coverage",
    "doc_rare_coverage",
    "has_most_informative",
    "sentence_coverage",
    "best_sentence_top3",
    "best_doc_top3",
    "rare_matched",
    "rare_unmatched",
    "unknown_share",
    "idf_coverage",
    "score_ratio",
    "gap",
    "nqc",
    "top5_mean",
    "specific_doc_coverage",
    "specific_sentence_coverage",
    "specific_best_sentence_top3",
    "matched_mass",
    "specific_matched_mass",
    "title_coverage",
)
# With the semantic stage on (retrieval/semantic/stage.py), the papers come in fused order and the model also sees
# how close the embedding model puts the question to them: a TLDR paraphrasing its paper sits near it, a
# football question near nothing, whatever words happen to match.
SEMANTIC_FEATURES = (
    "cosine_top",
    "cosine_gap",
    "cosine_top_vs_top5",
    "cosine_bm25_top",
    "fused_gap",
    "same_top",
)


# Words about the asking, not the topic: conversation ("tell me about", "does anyone know", "I remember a
# paper that") and reviewers' framing ("the authors propose a novel extension of previous work"). They are
# rare enough in general English to look informative, and abstracts rarely hold them, so counted as
# content they pushed real questions under the bar. Left out of the question's weights only; search keeps them.
CHATTER = frozenset(
    """tell know anyone someone anybody somebody get got pick really please explain find show give looking look
    want need something remember recall wonder wondering thanks thank hi hello hey paper papers article articles
    work works study studies research author authors propose proposes proposed present presents presented novel
    new previous prior existing extension extend extends submission submitted describe describes described
    method methods approach approaches way ways kind thing things idea ideas""".split()
)


@lru_cache(maxsize=200_000)
def informativeness(word: str) -> float:
    """8 minus the word's Zipf frequency in English (0.5 … 8): "the" ~0.3 → 0.5, "football" 2.9, "tarkin" 8."""
    return min(8.0, max(0.5, 8.0 - english_zipf(word)))  # wordfreq's figure, without its tokenizer's start-up


def question_weights(question: str, analyzer: Analyzer) -> dict[str, float]:
    """The question's index terms, each weighed by its most informative surface word."""
    weights: dict[str, float] = {}
    for word in analyzer.words(question):
        if word in CHATTER:
            continue
        term = analyzer.term_of(word)
        if term:
            weights[term] = max(weights.get(term, 0.0), informativeness(word))
    return weights


class Verdict(BaseModel):
    """The decision, with its probability: `answer` to answer, `related` to offer the closest papers instead."""

    probability: float
    answer: bool
    related: bool


def features(
    weights: dict[str, float],
    ranked: Sequence[tuple[Paper, float]],
    paper_terms: Sequence[PaperTerms],
    vocab: dict[str, int],
    idf: np.ndarray,
    top_idf: float,
    k1: float,
    n_docs: int,
    bm25_scores: Sequence[float] | None = None,
) -> np.ndarray | None:
    """One row of FEATURES, or None when nothing informative was asked or nothing was found.

    `paper_terms[i]` holds ranked[i]'s (title and abstract terms, each sentence's terms); `top_idf`, the
    corpus's highest idf, is what a word the corpus has never seen would weigh. The `specific_*` features
    weigh each word by its informativeness times its specificity in this corpus (idf / log N, a share that
    means the same at any size; 1 for an unseen word), so words every abstract uses ("paper", "propose",
    "novel") count for little there. `bm25_scores`, BM25's own best scores, replace the ranked scores in the
    score-shape features when the papers come in another (fused) order.
    """
    mass = sum(weights.values())
    if not ranked or mass <= 0:
        return None
    top_terms, top_sentences, top_title = paper_terms[0]
    rare = {t for t, w in weights.items() if w >= RARE}
    most = max(weights, key=weights.__getitem__)

    known_idf = {t: float(idf[vocab[t]]) for t in weights if t in vocab and idf[vocab[t]] > 0}
    log_n = math.log(n_docs + 1) or 1.0
    specific = {t: w * min(known_idf[t] / log_n, 1.0) if t in known_idf else w for t, w in weights.items()}

    def coverage(present: set[str] | frozenset[str], among=None, weight=weights) -> float:
        among = weight.keys() if among is None else among
        total = sum(weight[t] for t in among)
        return sum(weight[t] for t in among if t in present) / total if total else 0.0

    def best_sentence(sentences: list[list[str]], weight=weights) -> float:
        return max((coverage(set(s), weight=weight) for s in sentences), default=0.0)

    idf_mass = sum(known_idf.get(t, top_idf) for t in weights)
    scores = np.array([score for _, score in ranked] if bm25_scores is None else bm25_scores, np.float64)
    if scores[0] <= 0:
        return None
    top5 = scores[:5]
    most_possible = sum(known_idf.values()) * (k1 + 1) or 1.0
    return np.array(
        [
            coverage(top_terms),
            coverage(top_terms, rare) if rare else coverage(top_terms),
            float(most in top_terms),
            best_sentence(top_sentences),
            max(best_sentence(p.sentences) for p in paper_terms[:3]),
            max(coverage(p.terms) for p in paper_terms[:3]),
            min(len(rare & top_terms), 4) / 4,
            min(len(rare - top_terms), 4) / 4,
            sum(w for t, w in weights.items() if t not in known_idf) / mass,
            sum(known_idf[t] for t in weights if t in top_terms and t in known_idf) / idf_mass,
            min(scores[0] / most_possible, 1.0),
            (scores[0] - scores[1]) / scores[0] if len(scores) > 1 else 1.0,
            float(top5.std() / top5.mean()) if len(top5) > 1 else 0.0,
            float(top5.mean() / scores[0]),
            coverage(top_terms, weight=specific),
            best_sentence(top_sentences, specific),
            max(best_sentence(p.sentences, specific) for p in paper_terms[:3]),
            min(sum(w for t, w in weights.items() if t in top_terms), 40.0) / 40,
            min(sum(w for t, w in specific.items() if t in top_terms), 40.0) / 40,
            coverage(top_title),
        ],
        np.float64,
    )


def semantic_features(
    cosines: Sequence[float], cosine_bm25_top: float, fused: Sequence[float], same_top: bool
) -> np.ndarray:
    """SEMANTIC_FEATURES for papers in fused order: their cosines to the question and fused scores (best first)."""
    cos = np.asarray(cosines[:5], np.float64)
    rest = cos[1:]
    return np.array(
        [
            cos[0],
            cos[0] - rest.max() if len(rest) else cos[0],
            cos[0] - cos.mean(),
            cosine_bm25_top,
            (fused[0] - fused[1]) / fused[0] if len(fused) > 1 and fused[0] > 0 else 1.0,
            float(same_top),
        ],
        np.float64,
    )


class PaperTerms(NamedTuple):
    """A paper's terms, analyzed once per answer: all of them, each sentence's, the title's."""

    terms: set[str]
    sentences: list[list[str]]
    title: set[str]


def paper_terms(paper: Paper, analyzer: Analyzer) -> PaperTerms:
    sentences = [analyzer(s) for s in paper.sentences]
    title = set(analyzer(paper.title))
    return PaperTerms(title.union(*sentences), sentences, title)


class AnswerabilityModel:
    """Boosted trees (evaluated with numpy, as the evidence model is) and the two bars on their probability."""

    def __init__(self, data: dict, expected: tuple[str, ...] = FEATURES):
        if tuple(data["features"]) != expected:
            raise ValueError(f"answerability model: features {data['features']} do not match the code's {expected}")
        self.trees = TreeEnsemble.from_json(data)
        self.threshold = float(data["threshold"])
        self.related_threshold = float(data["related_threshold"])

    def probability(self, row: np.ndarray) -> float:
        margin = float(self.trees.margin(row[None, :])[0])
        return 1 / (1 + math.exp(-max(min(margin, 50.0), -50.0)))


_override: list[AnswerabilityModel] = []  # a fold's lexical model while `paperbot eval natural` answers that fold


def use_fold(fold: int | None) -> None:
    """Judge with the lexical model fitted without `fold` of the natural questions (None: the shipped one again).

    For evaluation only: the file keeps each fold's trees (`folds`) so figures can be measured out of fold.
    """
    _override.clear()
    if fold is not None:
        data = json.loads(MODEL_PATH.read_text())
        _override.append(AnswerabilityModel({**data, **data["folds"][str(fold)]}))


def model(semantic: bool = False) -> AnswerabilityModel:
    """The lexical model, or the one fitted on fused rankings with SEMANTIC_FEATURES added."""
    if _override and not semantic:
        return _override[-1]
    return _shipped(semantic)


@cache
def _shipped(semantic: bool = False) -> AnswerabilityModel:
    path, features = (SEMANTIC_MODEL_PATH, FEATURES + SEMANTIC_FEATURES) if semantic else (MODEL_PATH, FEATURES)
    try:
        return AnswerabilityModel(json.loads(path.read_text()), features)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:  # one line at the CLI, not a traceback
        raise ModelUnusable.reading("answer-or-abstain" + (" (semantic)" if semantic else ""), path, exc) from None


def judge(row: np.ndarray | None) -> Verdict:
    """Answer when the model's probability clears its threshold; offer related papers above a lower one.

    A row as long as FEATURES + SEMANTIC_FEATURES is judged by the semantic model.
    """
    if row is None:
        return Verdict(probability=0.0, answer=False, related=False)
    m = model(len(row) == len(FEATURES) + len(SEMANTIC_FEATURES))
    p = m.probability(row)
    return Verdict(probability=round(p, 4), answer=p >= m.threshold, related=p >= m.related_threshold)


# A name written as a name — capitals inside a word (LoRA, ConvNeXt, PaLM) or letters and digits run together
# (AlphaFold2, DINOv2, GPT4; not plain acronyms such as GUI or KBQA, which abstracts often spell out) — that the corpus has never seen is what the question is about, not noise: a
# question about it cannot be answered from this corpus, however well its other words match.
_NAME_LIKE = re.compile(r"(?<![\w-])(?:[A-Za-z]*[a-z][A-Z][\w-]*|[A-Za-z]{2,}\d+[A-Za-z]*)(?![\w-])")


def unknown_name(question: str, index) -> str | None:
    """A name-like word of the question that no paper of the index uses, if any (already respelt)."""
    analyzer, vocab = index.analyzer, index.vocab
    for match in _NAME_LIKE.finditer(question):
        word = match.group(0)
        terms = analyzer(word)
        if terms and not any(t in vocab for t in terms):
            return word
    return None
