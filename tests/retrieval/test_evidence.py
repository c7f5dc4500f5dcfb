"""The evidence model: the numpy tree walker reproduces LightGBM, and the features read structured abstracts."""

import json

import numpy as np

from retrieval.answers.evidence import (
    FEATURES,
    MODEL_PATH,
    TreeEnsemble,
    evidence_probability,
    section_of,
    sentence_features,
)
from retrieval.lexical.analyzer import Analyzer


def test_numpy_trees_reproduce_lightgbm_predictions():
    model = json.loads(MODEL_PATH.read_text())
    assert model["features"] == list(FEATURES)
    check = model["check"]  # rows and LightGBM's own predictions, written by training/train_selector.py
    mine = evidence_probability(np.array(check["features"]))
    assert np.abs(mine - np.array(check["probability"])).max() < 1e-9


def test_tree_walker_on_a_hand_made_ensemble():
    # tree 0: x0 <= 0.5 ? (x1 <= 2 ? 1.0 : 2.0) : 3.0 ; tree 1: a single leaf 0.25
    ensemble = TreeEnsemble.from_json(
        {
            "trees": [
                {
                    "feature": [0, 1],
                    "threshold": [0.5, 2.0],
                    "left": [1, ~0],
                    "right": [~2, ~1],
                    "leaf": [1.0, 2.0, 3.0],
                },
                {"feature": [], "threshold": [], "left": [], "right": [], "leaf": [0.25]},
            ]
        }
    )
    x = np.array([[0.0, 1.0], [0.5, 3.0], [0.9, 0.0]])
    assert ensemble.margin(x).tolist() == [1.25, 2.25, 3.25]


def test_sections_follow_the_capitalised_headings():
    sentences = [
        "BACKGROUND Stroke is common.",
        "We asked why.",
        "METHODS We enrolled 40 patients.",
        "RESULTS Aspirin reduced risk (p < 0.01).",
        "It also lowered mortality.",
        "CONCLUSIONS Aspirin helps.",
    ]
    assert section_of(sentences) == ["other", "other", "methods", "results", "results", "conclusions"]
    assert section_of(["No headings here.", "None at all."]) == [None, None]


def test_features_and_probabilities_for_every_sentence():
    analyzer = Analyzer()
    sentences = [
        "Cats sleep a lot.",
        "RESULTS Aspirin reduced stroke risk by 20%.",
        "CONCLUSION Aspirin prevents stroke.",
    ]
    question = analyzer("aspirin prevents stroke")
    terms = [analyzer(s) for s in sentences]
    features, coverage = sentence_features(question, {t: 1.0 for t in question}, sentences, terms)
    assert features.shape == (3, len(FEATURES))
    assert coverage.tolist() == [0.0, 2 / 3, 1.0]
    p = evidence_probability(features)
    assert ((p > 0) & (p < 1)).all() and p[2] > p[0] and p[1] > p[0]
