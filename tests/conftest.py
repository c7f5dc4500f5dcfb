"""Shared fixtures: the benchmark data beside the checkout, a fresh paperbot home, and a run that never touches
the user's own folders.

For the whole run (from `pytest_configure`, before collection; `user_folders` is the autouse session fixture
that holds them), HOME, the XDG folders and paperbot's eval cache point into a temporary folder, and paperbot's
and Discord's settings are taken out of the environment; subprocesses inherit it. So a test passes on a machine
where nothing was ever cached, and the user's home, cache and data folders are neither read nor written. Tests
that need the benchmark's vectors (minutes of encoding) make a small set of their own (`small_benchmark` in
tests/bot/test_cli_vectors.py) or are skipped with the reason; set PAPERBOT_TEST_EVAL_CACHE to a cache that
`paperbot eval vectors` filled to run them anyway.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "data"
SEEDS = SHARED / "seeds"
FIXTURES = Path(__file__).parent / "data"

# Knobs of the tests themselves, kept from the caller's environment (everything else PAPERBOT_* is dropped).
TEST_KNOBS = {"PAPERBOT_PROPERTY_EXAMPLES", "PAPERBOT_TEST_EVAL_CACHE"}
# The folders a test run gets instead of the user's: HOME, the XDG base folders, paperbot's eval cache.
XDG = {"XDG_CACHE_HOME": "cache", "XDG_DATA_HOME": "data", "XDG_CONFIG_HOME": "config", "XDG_STATE_HOME": "state"}
USER_FOLDERS = pytest.StashKey[tuple[Path, dict[str, Path], pytest.MonkeyPatch]]()
# Commands (of the README and docs/) that need the benchmark's vectors in the eval cache to run.
NEEDS_BENCHMARK_VECTORS = re.compile(r"^paperbot eval (evidence|answerability|natural)\b.*--semantic\b")


def pytest_configure(config: pytest.Config) -> None:
    """Point the run at folders of its own before anything is collected: some libraries read HOME once, when they
    are first imported (onnxruntime keeps a file under HOME/.cache), and test modules import them."""
    root = Path(tempfile.mkdtemp(prefix="paperbot-tests-"))
    folders = {"HOME": root / "home", **{name: root / "home" / sub for name, sub in XDG.items()}}
    folders["PAPERBOT_EVAL_CACHE"] = Path(os.environ.get("PAPERBOT_TEST_EVAL_CACHE") or root / "eval-cache")
    patch = pytest.MonkeyPatch()
    for name in list(os.environ):
        if (name.startswith("PAPERBOT_") and name not in TEST_KNOBS) or name.startswith("DISCORD_"):
            patch.delenv(name)  # a developer's own settings (a token, a home, a model) change what tests see
    for name, path in folders.items():
        path.mkdir(parents=True, exist_ok=True)
        patch.setenv(name, str(path))
    config.stash[USER_FOLDERS] = (root, folders, patch)


def pytest_unconfigure(config: pytest.Config) -> None:
    root, _, patch = config.stash.get(USER_FOLDERS, (None, None, None))
    if patch is not None:
        patch.undo()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def user_folders(pytestconfig: pytest.Config) -> dict[str, Path]:
    """HOME, XDG_*_HOME and PAPERBOT_EVAL_CACHE of the run (set in `pytest_configure`), checked still in place."""
    _, folders, _ = pytestconfig.stash[USER_FOLDERS]
    for name, path in folders.items():
        assert os.environ.get(name) == str(path), f"{name} no longer points at the run's own folder"
    return folders


@pytest.fixture(autouse=True)
def root_logging() -> Iterator[None]:
    """Each test leaves the root logger as it found it. `serve` run in-process configures logging for the bot
    (a handler on the stderr of its test, level INFO), and a later command's INFO lines (`vectors build`
    logs each batch) would otherwise go to that test's closed stream: a "Logging error" traceback."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def user_env() -> dict[str, str]:
    """The run's own HOME, XDG folders and eval cache, for a test that gives a subprocess an environment of its
    own: without HOME, Python and onnxruntime fall back to the account's real home (onnxruntime writes there)."""
    return {name: os.environ[name] for name in ("HOME", *XDG, "PAPERBOT_EVAL_CACHE") if name in os.environ}


def benchmark_vectors_reason() -> str | None:
    """Why the benchmark's vectors are not there (the reason a test that needs them is skipped), or None."""
    from retrieval.quality.benchmarks import eval_vectors_home
    from retrieval.semantic.vectors import VECTORS_DIR, VectorStore

    folder = eval_vectors_home()
    models = [path for path in (folder / VECTORS_DIR).glob("*") if path.is_dir()]
    if any(VectorStore.keys(model) for model in models):
        return None
    return (
        f"needs the benchmark's vectors (10-20 minutes of `paperbot eval vectors`), and the test run's eval cache"
        f" {folder} has none: tests/bot/test_cli_vectors.py runs these commands on a small benchmark; set"
        " PAPERBOT_TEST_EVAL_CACHE to a filled cache to run them on the real one"
    )


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
