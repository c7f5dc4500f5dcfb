"""The fitted models `ask` needs, checked before the bot or `paperbot check` says it can answer.

The evidence trees (evidence_model.json) and the two answer-or-abstain models ship inside the package.
They are read on the first question, so a damaged or mismatched file (a partial install, an edited
file, a model from another version) used to surface as an error on every question of a bot that had
started and reported healthy. `check_models()` reads each file and replays the rows stored in it at
fitting time (`check`: features and LightGBM's probabilities), so a file that loads but answers
differently is caught too.
"""

from __future__ import annotations

import json

import numpy as np

from retrieval.answers import answerability, evidence, pinpoint
from retrieval.errors import REINSTALL, ModelUnusable

__all__ = ["ModelUnusable", "check_models"]


def _replay(name: str, path, probability) -> None:
    """Load `path` and compare its stored check rows with what the product computes from them."""
    try:
        data = json.loads(path.read_text())
        rows = data["check"]
        got = [probability(data, np.array(row, np.float64)) for row in rows["features"]]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ModelUnusable.reading(name, path, exc) from None
    if not np.allclose(got, rows["probability"], atol=1e-6):
        raise ModelUnusable(f"{name} model {path}: does not reproduce its own check rows; {REINSTALL}")


def _evidence(data: dict, row: np.ndarray) -> float:
    margin = evidence.TreeEnsemble.from_json(data).margin(row[None, :])[0]
    return float(1 / (1 + np.exp(-margin)))


def _answerability(features: tuple[str, ...]):
    return lambda data, row: answerability.AnswerabilityModel(data, features).probability(row)


def check_models() -> list[str]:
    """Names of the models that load and reproduce their check rows; ModelUnusable for the first that does not."""
    _replay("evidence", evidence.MODEL_PATH, _evidence)
    _replay("answer-or-abstain", answerability.MODEL_PATH, _answerability(answerability.FEATURES))
    _replay(
        "answer-or-abstain (semantic)",
        answerability.SEMANTIC_MODEL_PATH,
        _answerability(answerability.FEATURES + answerability.SEMANTIC_FEATURES),
    )
    _replay(
        "pinpoint",
        pinpoint.MODEL_PATH,
        lambda data, row: float(pinpoint.PinpointModel(data).probability(row[None, :])[0]),
    )
    return ["evidence", "answer-or-abstain", "answer-or-abstain (semantic)", "pinpoint"]
