"""Readers never wait for a process that holds the index lock (issue #25, case 1).

Before the fix every command took HOME/.index.lock, even with its index already at the
store's change counter: with another process holding it for a save, `search`, `ask`, `corpus`
and `paper` each waited for it. Now a fresh index is read without the lock, and a reader whose
index is behind answers from the version it has (one line on stderr) instead of waiting.
Real processes: another one holds the lock (flock, as a saving `paperbot ingest` does) for a
minute; each command must be done while it still holds it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpus.loaders import load_path
from corpus.store import Store
from retrieval.lexical.index import INDEX_DIR, SearchIndex
from retrieval.lexical.saved import lock_path
from tests.faults.store_helpers import (
    cli,
    copy_home,
    make_home,
    no_traceback,
    one_line,
    start,
    store_ids,
    write_papers,
)

HOLD = 60.0  # seconds the other process keeps the lock: far longer than any command here


@pytest.fixture(scope="module")
def base_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("readers") / "home")


@pytest.fixture
def home(base_home: Path, tmp_path: Path) -> Path:
    return copy_home(base_home, tmp_path)


class LockHolder:
    """Another process holding the index lock (flock on HOME/.index.lock) until the block ends."""

    def __init__(self, home: Path):
        self.path = lock_path(home / INDEX_DIR)

    def __enter__(self) -> LockHolder:
        code = (
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(self.path)!r}, os.O_RDWR | os.O_CREAT, 0o644)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            f"time.sleep({HOLD})\n"
        )
        self.process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "held"
        return self

    def still_holding(self) -> bool:
        return self.process.poll() is None

    def __exit__(self, *exc: object) -> None:
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


def timed(home: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = cli(home, *args, timeout=HOLD - 5)
    return result, time.monotonic() - started


def test_a_fresh_index_is_read_without_the_lock(home: Path):
    with LockHolder(home) as holder:
        for args in (
            ("search", "perceiver", "--k", "1"),
            ("ask", "what is Perceiver IO?"),
            ("corpus",),
            ("paper", "2103.03206"),
        ):
            result, seconds = timed(home, *args)
            assert result.returncode == 0, result.stderr
            no_traceback(result)
            assert result.stderr == "", result.stderr  # fresh: nothing to say, nothing waited for
            assert holder.still_holding(), f"{args[0]} took {seconds:.1f} s: it waited for the lock"


def test_a_reader_behind_answers_from_its_version_instead_of_waiting(home: Path, tmp_path: Path):
    words = write_papers(tmp_path / "new.jsonl", "behind", 2)
    with Store(home / "papers.sqlite3") as store:  # stored, as an ingest does before it saves the index
        store.ingest(load_path(str(tmp_path / "new.jsonl")))
    with LockHolder(home) as holder:
        result, seconds = timed(home, "search", words[0], "--k", "1")
        assert holder.still_holding(), f"search took {seconds:.1f} s: it waited for the lock"
        assert result.returncode == 0, result.stderr
        no_traceback(result)
        line = one_line(result.stderr)
        assert "another paperbot process is saving it" in line and "2 papers changed since" in line, line
        assert "fault-behind-0000" not in result.stdout  # the version it had: without the new papers
        saved = SearchIndex.load(home / INDEX_DIR)
        assert saved is not None and len(saved) == 13  # and it saved nothing
    # the lock is free: the next reader catches up under it and saves, then the one after just reads
    result = cli(home, "search", words[0], "--k", "1")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "fault-behind-0000" in result.stdout
    saved = SearchIndex.load(home / INDEX_DIR)
    assert saved is not None and len(saved) == 15
    assert "ok: index present and fresh (15 papers)" in cli(home, "check", "--no-token").stdout


def test_a_writer_still_waits_for_the_lock_and_saves(home: Path, tmp_path: Path):
    """An ingest must leave a saved index: it waits for the lock (readers meanwhile do not)."""
    write_papers(tmp_path / "new.jsonl", "writer", 2)
    with LockHolder(home) as holder:
        ingest = start(home, "ingest", str(tmp_path / "new.jsonl"))
        deadline = time.monotonic() + 30
        while len(store_ids(home)) < 15 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        assert ingest.poll() is None  # stored, and waiting to save the index
        reader, _ = timed(home, "search", "probe of concurrent ingest", "--k", "1")
        assert reader.returncode == 0 and holder.still_holding()
        assert "another paperbot process is saving it" in one_line(reader.stderr)
    out, err = ingest.communicate(timeout=60)
    assert ingest.returncode == 0, err
    no_traceback((out, err))
    saved = SearchIndex.load(home / INDEX_DIR)
    assert saved is not None and len(saved) == 15
