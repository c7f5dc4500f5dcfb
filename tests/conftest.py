"""Shared fixtures: the benchmark data beside the checkout, and a fresh paperbot home."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "data"
SEEDS = SHARED / "seeds"
FIXTURES = Path(__file__).parent / "data"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def need(path: Path) -> Path:
    """Skip, with the reason, when ../shared is not beside the checkout."""
    if not path.exists():
        pytest.skip(f"{path} is absent: run with ../shared beside the checkout")
    return path


@pytest.fixture(scope="session")
def scifact_corpus() -> Path:
    return need(DATA / "scifact" / "corpus.jsonl")
