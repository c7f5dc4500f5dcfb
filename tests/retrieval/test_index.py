"""The saved index: reused on the next start, brought up to date when the store changes."""

import numpy as np

from corpus.home import open_store
from corpus.models import Paper
from retrieval.lexical.index import INDEX_DIR, SearchIndex
from retrieval.lexical.saved import current_version
from retrieval.lexical.sync import open_index


def test_saved_index_is_reused_and_gives_the_same_scores(home):
    with open_store(home) as store:
        first = open_index(home, store)
        version = current_version(home / INDEX_DIR)
        saved_at = (version / "meta.json").stat().st_mtime_ns
        second = open_index(home, store)
        assert current_version(home / INDEX_DIR) == version  # loaded, not rebuilt
        assert (version / "meta.json").stat().st_mtime_ns == saved_at
        query = "vision transformers at scale"
        np.testing.assert_array_equal(first.scores(query), second.scores(query))


def test_index_follows_the_store(home):
    with open_store(home) as store:
        open_index(home, store)
        store.ingest([Paper(id="2501.00001", title="Zebra finches", abstract="Zebra finches sing songs.")])
        index = open_index(home, store)
        assert index.search("zebra finch song", 1)[0].paper_id == "2501.00001"
        assert index.seq == store.sequence and len(index) == 14
        rebuilt = SearchIndex.build(store.papers())
        np.testing.assert_allclose(
            [index.scores("zebra model")[index.rows[pid]] for pid in rebuilt.paper_ids],
            rebuilt.scores("zebra model"),
            atol=1e-9,
        )


def test_a_corrupt_index_is_rebuilt(home):
    with open_store(home) as store:
        open_index(home, store)
        (current_version(home / INDEX_DIR) / "docs.npy").write_bytes(b"garbage")
        index = open_index(home, store)
        assert len(index) == 13 and index.search("perceiver", 1)


def test_impacts_are_saved_and_reused(home):
    with open_store(home) as store:
        built = open_index(home, store)
        loaded = SearchIndex.load(home / INDEX_DIR)
        assert loaded.scorer._impacts is not None  # read from disk, not recomputed
        np.testing.assert_array_equal(loaded.scorer._impacts, built.scorer.impacts)
        assert [h.paper_id for h in loaded.search("multimodal", 5)] == [
            h.paper_id for h in built.search("multimodal", 5)
        ]
