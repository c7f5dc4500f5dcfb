"""The semantic stage's paper vectors on disk (retrieval/semantic/vectors.py): one memory-mapped float16 matrix,
appended by several processes at once; segments of earlier versions taken in; damage repaired once, not warned
about by every command; `vectors_problem` for `paperbot check`."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.semantic.stage import SemanticStage
from retrieval.semantic.vectors import (
    DIM,
    STATE,
    VectorBuilder,
    VectorStore,
    as_float32,
    content_hash,
    vectors_problem,
)
from tests.faults.store_helpers import Immutable

ROOT = Path(__file__).resolve().parents[2]
MODEL = "minilm-test"


def unit(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def h(n: int) -> str:
    return f"{n:016x}"


def folder_of(home: Path) -> Path:
    return home / "vectors" / MODEL


def damage_warnings(caplog) -> int:
    return sum("damaged" in r.getMessage() for r in caplog.records)


def test_rows_are_appended_looked_up_and_a_later_row_wins(tmp_path):
    store = VectorStore(folder_of(tmp_path))
    first = unit(3, 1)
    store.add(["a", "b", "c"], [h(1), h(2), h(3)], first)
    vectors, have = store.lookup(["c", "nope", "a"])
    assert have.tolist() == [True, False, True] and not vectors[1].any()
    np.testing.assert_array_equal(vectors[[0, 2]], first[[2, 0]].astype(np.float16).astype(np.float32))
    assert store.missing([("a", h(1)), ("b", h(9)), ("z", h(0))]) == [("b", h(9)), ("z", h(0))]
    newer = unit(1, 2)
    store.add(["b"], [h(9)], newer)  # an updated abstract: a new row, the old one superseded
    other = VectorStore.for_model(tmp_path, MODEL)  # another process sees both additions
    assert len(other) == 3 and other.missing([("b", h(9))]) == [] and other.superseded == 1
    np.testing.assert_array_equal(other.lookup(["b"])[0][0], newer[0].astype(np.float16).astype(np.float32))
    assert VectorStore.keys(folder_of(tmp_path)) == {"a": h(1), "b": h(9), "c": h(3)}
    other.compact()
    names = sorted(p.name for p in folder_of(tmp_path).iterdir())
    assert names == [".lock", "keys-1.tsv", STATE, "vectors-1.f16"]  # one generation, superseded row gone
    again = VectorStore.for_model(tmp_path, MODEL)
    assert again.rows == 3 and again.superseded == 0 and sorted(again.where) == ["a", "b", "c"]
    assert vectors_problem(tmp_path) is None


def test_a_query_reads_its_candidates_vectors_without_opening_a_file(tmp_path, monkeypatch):
    store = VectorStore.for_model(tmp_path, MODEL)
    store.add([f"p{i}" for i in range(2000)], [h(i) for i in range(2000)], unit(2000, 3))

    def no_files(*args, **kwargs):
        raise AssertionError("a file was opened")

    monkeypatch.setattr("builtins.open", no_files)
    monkeypatch.setattr(Path, "open", no_files)
    vectors, have = store.lookup([f"p{i}" for i in range(0, 2000, 2)])
    assert have.all() and vectors.shape == (1000, DIM)


def test_several_processes_add_vectors_at_once_and_compaction_keeps_them(tmp_path):
    folder = folder_of(tmp_path)
    code = (
        "import sys, numpy as np; from pathlib import Path; from retrieval.semantic.vectors import VectorStore\n"
        "s = VectorStore(Path(sys.argv[1])); w = sys.argv[2]\n"
        "v = np.full((1, 384), 384 ** -0.5, np.float32)\n"
        "for i in range(15): s.add([f'{w}{i % 10}'], [f'{i:016x}'], v)\n"  # five of each ten written twice
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen([sys.executable, "-c", code, str(folder), w], env=env) for w in ("p", "q", "r")]
    assert [w.wait(120) for w in workers] == [0, 0, 0]
    store = VectorStore(folder).refresh()
    assert store.rows == 45 and len(store) == 30 and store.superseded == 15
    assert store.missing([("p4", h(14)), ("q9", h(9))]) == []  # each paper's newest row
    assert not list(folder.glob(".*.part"))
    store.compact()
    assert len(VectorStore(folder).refresh()) == 30 and VectorStore(folder).refresh().rows == 30
    assert len(list(folder.glob("vectors-*.f16"))) == 1


def test_segments_of_earlier_versions_are_taken_in_and_a_damaged_one_removed_with_one_warning(tmp_path, caplog):
    folder = folder_of(tmp_path)
    folder.mkdir(parents=True)
    first, second = unit(2, 4), unit(2, 5)
    for n, (ids, vectors) in enumerate([(["a", "b"], first), (["c", "d"], second), (["e"], unit(1, 6))], 1):
        np.savez(folder / f"seg-{n:08d}.npz", ids=np.array(ids), hashes=np.array([h(1)] * len(ids)), vectors=vectors)
    damaged = folder / "seg-00000003.npz"
    damaged.write_bytes(damaged.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        store = VectorStore.for_model(tmp_path, MODEL)
        store.refresh()
        VectorStore.for_model(tmp_path, MODEL)
    assert sum("damaged vector file removed" in r.getMessage() for r in caplog.records) == 1
    assert not list(folder.glob("seg-*.npz"))  # taken in (or removed, the damaged one), once
    assert sorted(store.where) == ["a", "b", "c", "d"] and store.missing([("e", h(1))]) == [("e", h(1))]
    np.testing.assert_array_equal(store.lookup(["d"])[0][0], second[1].astype(np.float16).astype(np.float32))


def truncate_matrix(folder: Path) -> None:
    path = next(folder.glob("vectors-*.f16"))
    path.write_bytes(path.read_bytes()[: 2 * DIM * 2 + 100])  # two whole rows and part of a third


def garble_state(folder: Path) -> None:
    (folder / STATE).write_text("{not json")


def lose_state(folder: Path) -> None:
    (folder / STATE).unlink()


def garble_a_key(folder: Path) -> None:
    path = next(folder.glob("keys-*.tsv"))
    lines = path.read_bytes().split(b"\n")
    lines[1] = b"\xff\xfe no tab here"
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize(
    ("damage", "kept"),
    [
        (truncate_matrix, ["a", "b"]),
        (garble_state, ["a", "b", "c", "d"]),
        (lose_state, ["a", "b", "c", "d"]),
        (garble_a_key, ["a", "c", "d"]),
    ],
)
def test_damage_is_repaired_once_and_the_papers_lost_are_encoded_again(tmp_path, caplog, damage, kept):
    store = VectorStore.for_model(tmp_path, MODEL)
    store.add(["a", "b"], [h(1), h(2)], unit(2, 7))
    store.add(["c", "d"], [h(3), h(4)], unit(2, 8))
    damage(folder_of(tmp_path))
    problem = vectors_problem(tmp_path)
    assert problem is not None and str(folder_of(tmp_path)) in problem  # what `paperbot check` says
    with caplog.at_level(logging.WARNING):
        repaired = VectorStore.for_model(tmp_path, MODEL)
        VectorStore.for_model(tmp_path, MODEL).refresh()  # the next command: nothing to warn about
    assert damage_warnings(caplog) == 1
    assert sorted(repaired.where) == kept
    everything = [("a", h(1)), ("b", h(2)), ("c", h(3)), ("d", h(4))]
    assert [p for p, _ in repaired.missing(everything)] == sorted(set("abcd") - set(kept))  # encoded again
    assert vectors_problem(tmp_path) is None
    repaired.add(["b"], [h(2)], unit(1, 9))
    assert VectorStore.for_model(tmp_path, MODEL).missing(everything) == [
        p for p in everything if p[0] not in kept and p[0] != "b"
    ]


def test_a_damaged_folder_that_cannot_be_written_is_used_as_far_as_it_is_whole(tmp_path, caplog):
    store = VectorStore.for_model(tmp_path, MODEL)
    store.add(["a", "b", "c"], [h(1), h(2), h(3)], unit(3, 10))
    folder = folder_of(tmp_path)
    truncate_matrix(folder)
    with Immutable(folder, *folder.iterdir()), caplog.at_level(logging.WARNING):
        readonly = VectorStore.for_model(tmp_path, MODEL)
        readonly.refresh()
        assert sorted(readonly.where) == ["a", "b"] and readonly.lookup(["b"])[1].all()
    assert damage_warnings(caplog) == 1


class FakeEncoder:
    """Unit vectors from a text's hash: a stand-in for the model where only the plumbing is tested."""

    model_id = MODEL

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        return np.stack([unit(1, abs(hash(t)) % 2**32)[0] for t in texts]) if texts else np.zeros((0, DIM))


def test_rows_that_are_not_unit_vectors_are_found_and_their_papers_encoded_again(tmp_path, caplog):
    papers = [(f"p{i}", f"Title {i}", f"Abstract {i}.") for i in range(5)]
    store = VectorStore.for_model(tmp_path, MODEL)
    builder = VectorBuilder(store, FakeEncoder(), lambda: papers)
    assert builder.build_once() == 5
    path = next(folder_of(tmp_path).glob("vectors-*.f16"))
    matrix = np.memmap(path, np.float16, "r+", shape=(5, DIM))
    matrix[3, 7] = np.inf  # a flipped bit in the file
    matrix.flush()
    del matrix
    problem = vectors_problem(tmp_path)
    assert problem is not None and "1 of 5 vectors are not unit vectors" in problem
    again = VectorStore.for_model(tmp_path, MODEL)
    with caplog.at_level(logging.WARNING):
        assert VectorBuilder(again, FakeEncoder(), lambda: papers).build_once() == 1  # p3, dropped and re-encoded
    assert damage_warnings(caplog) == 1 and vectors_problem(tmp_path) is None
    assert again.missing((p, content_hash(t, a)) for p, t, a in papers) == []


def test_the_stage_encodes_a_repeated_query_once(tmp_path):
    store = VectorStore.for_model(tmp_path, MODEL)
    store.add(["a", "b"], [h(1), h(2)], unit(2, 11))
    encoder = FakeEncoder()
    stage = SemanticStage(encoder, store)
    from retrieval.lexical.index import Hit

    hits = [Hit("a", 2.0), Hit("b", 1.0), Hit("c", 0.5)]
    first = stage.rank("owls at night", hits)
    second = stage.rank("owls at night", hits)
    assert encoder.calls == 1
    assert list(first.hits) == list(second.hits) and set(first.cosine) == {"a", "b"}
    assert first.bm25 == {"a": 2.0, "b": 1.0, "c": 0.5}
    stage.rank("another question", hits)
    assert encoder.calls == 2


def test_a_home_without_vectors_has_no_problem(tmp_path):
    assert vectors_problem(tmp_path) is None
    (tmp_path / "vectors" / MODEL).mkdir(parents=True)
    assert vectors_problem(tmp_path) is None and len(VectorStore.for_model(tmp_path, MODEL)) == 0
    json.dumps(VectorStore.keys(folder_of(tmp_path)))


def test_index_rows_map_to_vector_rows_and_stay_in_step(tmp_path, monkeypatch):
    from corpus.models import Paper
    from retrieval.lexical.index import SearchIndex
    from retrieval.semantic import vectors as vectors_module

    monkeypatch.setattr(vectors_module, "MAP_AFTER", 2)
    papers = [Paper(id=f"p{i}", title=f"Paper {i}", abstract=f"About topic {i}.") for i in range(6)]
    index = SearchIndex.build(papers[:4])
    store = VectorStore.for_model(tmp_path, MODEL)
    store.add(["p1", "p3"], [h(1), h(3)], unit(2, 12))
    assert store.rows_for(index) is None and store.rows_for(index) is None  # a command that asks once or twice

    def expected() -> list[int]:
        return [store.row_of.get(pid, -1) for pid in index.paper_ids]

    assert store.rows_for(index).tolist() == expected() == [-1, 0, -1, 1]
    other = VectorStore.for_model(tmp_path, MODEL)
    other.add(["p0", "p3"], [h(0), h(33)], unit(2, 13))  # another process: a new paper's vector, an updated one
    store.refresh()
    index.add(papers[4:])  # papers indexed since
    store.add(["p5"], [h(5)], unit(1, 14))
    assert store.rows_for(index).tolist() == expected() == [2, 0, -1, 3, -1, 4]
    store.compact()  # rows renumbered
    assert store.rows_for(index).tolist() == expected()
    vectors, have = store.gather(store.rows_for(index)[[5, 2]])
    np.testing.assert_array_equal(vectors, store.lookup(["p5", "p2"])[0])
    assert have.tolist() == [True, False]


def test_float16_read_as_float32_by_bit_pattern_gives_numpy_s_values():
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).reshape(128, 512)
    assert as_float32(every).view(np.uint32).tobytes() == every.astype(np.float32).view(np.uint32).tobytes()
    rows = np.random.default_rng(0).standard_normal((7, 384)).astype(np.float16)
    assert as_float32(rows).dtype == np.float32 and np.array_equal(as_float32(rows), rows.astype(np.float32))
