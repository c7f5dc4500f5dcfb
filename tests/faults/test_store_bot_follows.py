"""The running bot's engine follows other processes' writes, and never waits long for their locks.

Before the fix, a running bot never saw papers ingested from the CLI until restart, and a
bot write behind another process's lock froze for up to 30 s (Discord wants a reply in 3 s).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.engine import BUSY_TIMEOUT, Engine
from corpus.models import Paper
from corpus.store import StoreBusy
from retrieval.answers.search import SearchRequest
from tests.faults.store_helpers import cli, copy_home, env, make_home, write_papers


@pytest.fixture(scope="module")
def base_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("bot-follows") / "home")


@pytest.fixture
def home(base_home: Path, tmp_path: Path) -> Path:
    return copy_home(base_home, tmp_path)


def ingest(home: Path, tmp_path: Path, tag: str) -> str:
    word = write_papers(tmp_path / f"{tag}.jsonl", tag, 1)[0]
    result = cli(home, "ingest", str(tmp_path / f"{tag}.jsonl"))
    assert result.returncode == 0, result.stderr
    return word


def test_search_finds_a_paper_ingested_by_another_process(home: Path, tmp_path: Path):
    engine = Engine.open(home, semantic=False, refresh_seconds=None)
    try:
        word = ingest(home, tmp_path, "cli")
        assert "fault-cli-0000" not in engine.index.rows  # not yet: it was written by another process
        hits = engine.search(SearchRequest(query=word, k=1))  # the counter is read before answering
        assert [h.paper_id for h in hits] == ["fault-cli-0000"]
        assert engine.index.seq == engine.store.sequence
    finally:
        engine.close()


def test_an_idle_engine_catches_up_in_the_background(home: Path, tmp_path: Path):
    engine = Engine.open(home, semantic=False, refresh_seconds=0.2)
    try:
        ingest(home, tmp_path, "idle")
        deadline = time.monotonic() + 10
        while engine.index.seq < engine.store.sequence and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "fault-idle-0000" in engine.index.rows  # no query ran: the refresher did it
        assert asyncio.run(engine.refresh_async()) == 0  # nothing left to do
    finally:
        engine.close()


HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.rollback()
"""


def test_a_write_behind_another_process_lock_gives_up_in_about_2_s(home: Path):
    engine = Engine.open(home, semantic=False, refresh_seconds=None)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(home / "papers.sqlite3"), "8"],
        stdout=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(StoreBusy, match="busy"):
            engine.add_papers([Paper(id="2501.99999", title="Blocked", abstract="Written while locked.")])
        waited = time.monotonic() - started
        assert BUSY_TIMEOUT - 0.2 <= waited < BUSY_TIMEOUT + 1.0, waited
        started = time.monotonic()  # reading does not wait for the writer (WAL)
        assert engine.search(SearchRequest(query="perceiver", k=1))
        assert time.monotonic() - started < 1.0
    finally:
        holder.kill()
        holder.wait()
        engine.close()


def test_after_a_big_ingest_elsewhere_the_engine_loads_the_saved_index_instead_of_catching_up(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import retrieval.lexical.index as index_module

    monkeypatch.setattr(index_module, "CHUNK", 10)  # so 30 new papers are "big" next to the 13 indexed
    engine = Engine.open(home, semantic=False, refresh_seconds=None)
    try:
        before = engine.index
        words = write_papers(tmp_path / "big.jsonl", "big", 30)
        result = cli(home, "ingest", str(tmp_path / "big.jsonl"))  # another process, which saves its index
        assert result.returncode == 0, result.stderr
        hits = engine.search(SearchRequest(query=words[7], k=1))
        assert [h.paper_id for h in hits] == ["fault-big-0007"]
        assert engine.index is not before  # the version the ingest saved, loaded — not 30 papers added in memory
        assert len(engine.index) == 43 and engine.index.seq == engine.store.sequence
        small = ingest(home, tmp_path, "small")  # 1 new next to 43: added in memory, same index object
        loaded = engine.index
        assert [h.paper_id for h in engine.search(SearchRequest(query=small, k=1))] == ["fault-small-0000"]
        assert engine.index is loaded and len(loaded) == 44
    finally:
        engine.close()
