"""The on-disk index build: the same files as the in-memory build, published safely, in bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from corpus.home import open_store
from corpus.models import Paper
from retrieval.lexical import build as index_build
from retrieval.lexical import index as index_module
from retrieval.lexical.build import build_saved, remove_stale_scratch
from retrieval.lexical.index import INDEX_DIR, IndexDoc, SearchIndex, analyzed_chunks
from retrieval.lexical.saved import current_version
from retrieval.lexical.sync import open_index, sync_saved
from tests.conftest import need

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="module")
def docs() -> list[IndexDoc]:
    """SciFact's abstracts (5,183) with made-up years: enough terms and documents for many chunks and blocks."""
    path = need(DATA / "scifact" / "corpus.jsonl")
    docs = []
    for n, line in enumerate(path.read_text().splitlines()):
        record = json.loads(line)
        docs.append(
            IndexDoc(str(record["doc_id"]), f"{record['title']}\n{' '.join(record['sentences'])}", 1990 + n % 35)
        )
    return docs


def files(version: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(version.iterdir())}


@pytest.mark.parametrize("workers", [1, 2])
def test_chunked_build_writes_the_same_files_as_the_one_shot_build(docs, tmp_path, monkeypatch, workers):
    monkeypatch.setattr(index_module, "CHUNK", 700)  # 8 chunks
    monkeypatch.setattr(index_build, "BLOCK", 20_000)  # tens of blocks, some of a single term
    reference = SearchIndex.build(docs, seq=42)
    reference.save(tmp_path / "memory")
    assert build_saved(iter(docs), tmp_path / "disk", lambda: 42, workers=workers)
    on_disk, in_memory = current_version(tmp_path / "disk"), current_version(tmp_path / "memory")
    assert files(on_disk) == files(in_memory)  # byte for byte, impacts included
    loaded = SearchIndex.load(tmp_path / "disk")
    assert [h.paper_id for h in loaded.search("vitamin D deficiency", 10)] == [
        h.paper_id for h in reference.search("vitamin D deficiency", 10)
    ]
    assert not list(tmp_path.glob(".disk-build-*"))  # the scratch folder went into the version


def test_an_empty_corpus_gives_an_empty_index(tmp_path):
    assert build_saved(iter([]), tmp_path / "index", lambda: 0)
    index = SearchIndex.load(tmp_path / "index")
    assert index is not None and len(index) == 0 and index.search("anything") == []


def test_a_failed_build_publishes_nothing_and_leaves_no_scratch(docs, tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "CHUNK", 500)
    build_saved(iter(docs[:100]), tmp_path / "index", lambda: 1)
    before = current_version(tmp_path / "index")

    def broken():
        yield from docs[:1200]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        build_saved(broken(), tmp_path / "index", lambda: 2)
    assert current_version(tmp_path / "index") == before
    assert len(SearchIndex.load(tmp_path / "index")) == 100
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".index-build")] == []


def test_scratch_of_a_killed_build_is_removed_but_a_live_one_is_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".index-build-{dead.stdout.strip()}-abc"
    live = tmp_path / f".index-build-{os.getppid()}-def"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "chunk-docs.bin").write_bytes(b"x")
    remove_stale_scratch(tmp_path / "index")
    assert not stale.exists() and live.exists()


def test_chunks_in_flight_stay_bounded(docs, monkeypatch):
    """The build never reads far ahead of what it has analyzed: memory does not grow with the corpus."""
    monkeypatch.setattr(index_module, "CHUNK", 100)
    pulled = 0

    def counted():
        nonlocal pulled
        for doc in docs[:3000]:
            pulled += 1
            yield doc

    done = 0
    for batch, _ in analyzed_chunks(counted(), index_module.Analyzer(), workers=2):
        done += len(batch)
        assert pulled - done <= 3 * 100  # at most workers + 1 chunks besides the one handed out
    assert done == 3000


def test_a_big_change_is_indexed_on_disk_without_loading_and_a_small_one_in_memory(home, monkeypatch):
    monkeypatch.setattr(index_module, "CHUNK", 10)  # so 25 new papers are "big" next to 13
    with open_store(home) as store:
        assert sync_saved(home, store) is None  # no index yet: built on disk, not loaded
        assert len(SearchIndex.load(home / INDEX_DIR)) == 13
        store.ingest(
            [
                Paper(id=f"2501.{n:05d}", title=f"Zebra finch study {n}", abstract="Zebra finches sing.")
                for n in range(25)
            ]
        )
        assert sync_saved(home, store) is None  # 25 new next to 13 indexed: rebuilt on disk
        saved = SearchIndex.load(home / INDEX_DIR)
        assert len(saved) == 38 and saved.seq == store.sequence
        store.ingest([Paper(id="2502.00001", title="Okapi", abstract="Okapis eat leaves.")])
        index = sync_saved(home, store)  # 1 new next to 38: caught up in memory and saved
        assert index is not None and len(index) == 39
        reference = SearchIndex.build(store.papers())
        loaded = open_index(home, store)
        np.testing.assert_allclose(
            [loaded.scores("zebra okapi")[loaded.rows[pid]] for pid in reference.paper_ids],
            reference.scores("zebra okapi"),
            atol=1e-9,
        )
