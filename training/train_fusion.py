"""Fit the semantic stage's fused score on SciFact train only; report held-out figures once.

    pip install '.[semantic]'
    python training/train_fusion.py --cache /tmp/paperbot-vectors            # fit: grouped 5-fold CV on train
    python training/train_fusion.py --cache /tmp/paperbot-vectors --test     # then, once: SciFact test, SciTLDR test

BM25 gives each claim its top DEPTH papers, exactly as search does; the fused score of a
candidate is `(1 - w) * norm(bm25) + w * cosine`. Two normalisations are tried (BM25
divided by the best candidate's, or min-max over the candidates) and w on a 0.05 grid.
Folds group claims that share a cited paper (`scifact_claims`' `group`), so no paper's
claims are both fitted and scored. The printed choice (form, w) is written into
retrieval/semantic/stage.py by hand. Vectors are cached in --cache (encoding SciFact's 5,183
abstracts takes about ten minutes on two busy cores).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
GRID = [round(x, 2) for x in np.arange(0.0, 1.0001, 0.05)]
FORMS = ("max", "minmax")


def cached(cache: Path, name: str, keys: list[str], texts: list[str], encoder) -> dict[str, np.ndarray]:
    """key -> float32 unit vector, encoded once and kept in `cache` (float16)."""
    matrix_path, ids_path = cache / f"{name}.npy", cache / f"{name}.ids.json"
    if matrix_path.exists() and ids_path.exists():
        have = json.loads(ids_path.read_text())
        if set(keys) <= set(have):
            matrix = np.load(matrix_path).astype(np.float32)
            return dict(zip(have, matrix, strict=True))
    started = time.perf_counter()
    matrix = np.zeros((len(texts), 384), np.float32)
    for start in range(0, len(texts), 256):
        matrix[start : start + 256] = encoder().encode(texts[start : start + 256])
        done = min(start + 256, len(texts))
        print(f"{name}: {done}/{len(texts)} ({done / (time.perf_counter() - started):.1f}/s)", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(matrix_path, matrix.astype(np.float16))
    ids_path.write_text(json.dumps(keys))
    return dict(zip(keys, matrix, strict=True))


def fused(bm25: np.ndarray, cosine: np.ndarray, form: str, weight: float) -> np.ndarray:
    if form == "max":
        share = bm25 / (bm25.max() or 1.0)
    else:
        low, high = bm25.min(), bm25.max()
        share = (bm25 - low) / ((high - low) or 1.0)
    return (1 - weight) * share + weight * cosine


def main() -> int:
    from corpus.loaders import load_path
    from retrieval.lexical.index import SearchIndex
    from retrieval.quality.benchmarks import scifact_claims, scitldr_questions
    from retrieval.quality.evaluate import load_qrels, load_queries, ndcg_at, recall_at
    from retrieval.semantic.encoder import document_text, load_encoder
    from retrieval.semantic.stage import DEPTH

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--test", action="store_true", help="report the held-out splits with the chosen (form, w)")
    parser.add_argument("--form", default=None, help="with --test: the fitted form (default: fit again on train)")
    parser.add_argument("--weight", type=float, default=None, help="with --test: the fitted weight")
    args = parser.parse_args()

    encoder_box: list = []

    def encoder():
        if not encoder_box:
            encoder_box.append(load_encoder())
        return encoder_box[0]

    papers = load_path(DATA / "scifact" / "corpus.jsonl")
    index = SearchIndex.build(papers)
    docs = cached(
        args.cache, "scifact", [p.id for p in papers], [document_text(p.title, p.abstract) for p in papers], encoder
    )
    queries = load_queries(DATA)

    def candidates(question: str, qvec: np.ndarray, index, docs) -> tuple[list[str], np.ndarray, np.ndarray]:
        hits = index.search(question, DEPTH)
        ids = [h.paper_id for h in hits]
        bm25 = np.array([h.score for h in hits])
        cosine = np.array([float(docs[i] @ qvec) for i in ids]) if ids else np.zeros(0)
        return ids, bm25, cosine

    # ---- fit on train: grouped folds
    qrels = load_qrels(DATA, "train")
    groups = {str(c["claim_id"]): c["group"] for c in scifact_claims(DATA, "train")}
    train_ids = sorted(qrels)
    qtext = [queries[q] for q in train_ids]
    qvecs = cached(args.cache, "queries", qtext, qtext, encoder)
    rows = []  # per query: ndcg@10 for each (form, w)
    for qid in train_ids:
        ids, bm25, cosine = candidates(queries[qid], qvecs[queries[qid]], index, docs)
        row = {}
        for form in FORMS:
            for w in GRID:
                order = [ids[i] for i in np.lexsort((np.arange(len(ids)), -fused(bm25, cosine, form, w)))]
                row[(form, w)] = ndcg_at(order, qrels[qid])
        rows.append(row)
    fold_of = [zlib.crc32(groups.get(q, q).encode()) % args.folds for q in train_ids]
    cv_scores, cv_bm25, chosen_per_fold = [], [], []
    for fold in range(args.folds):
        fit = [r for r, f in zip(rows, fold_of, strict=True) if f != fold]
        held = [r for r, f in zip(rows, fold_of, strict=True) if f == fold]
        best = max(rows[0], key=lambda key: (np.mean([r[key] for r in fit]), -key[1]))
        chosen_per_fold.append(best)
        cv_scores.extend(r[best] for r in held)
        cv_bm25.extend(r[("max", 0.0)] for r in held)
    overall = max(rows[0], key=lambda key: (np.mean([r[key] for r in rows]), -key[1]))
    curve = {f"{form}:{w}": round(float(np.mean([r[(form, w)] for r in rows])), 4) for form in FORMS for w in GRID}
    report = {
        "train_queries": len(rows),
        "folds": args.folds,
        "chosen_per_fold": [f"{f}:{w}" for f, w in chosen_per_fold],
        "cv_ndcg10_bm25": round(float(np.mean(cv_bm25)), 4),
        "cv_ndcg10_fused": round(float(np.mean(cv_scores)), 4),
        "chosen_on_all_train": f"{overall[0]}:{overall[1]}",
        "train_ndcg10_curve": curve,
    }
    if args.test:
        form, weight = (args.form, args.weight) if args.form and args.weight is not None else overall
        test = {}
        qrels = load_qrels(DATA, "test")
        texts = [queries[q] for q in sorted(qrels)]
        tvecs = cached(args.cache, "queries_test", texts, texts, encoder)
        sums = {"bm25": [0.0, 0.0], "fused": [0.0, 0.0]}
        for qid in sorted(qrels):
            ids, bm25, cosine = candidates(queries[qid], tvecs[queries[qid]], index, docs)
            for name, w in (("bm25", 0.0), ("fused", weight)):
                order = [ids[i] for i in np.lexsort((np.arange(len(ids)), -fused(bm25, cosine, form, w)))]
                sums[name][0] += ndcg_at(order, qrels[qid])
                sums[name][1] += recall_at(order, qrels[qid])
        for name, (nd, rc) in sums.items():
            test[f"scifact_test_{name}"] = {"ndcg10": round(nd / len(qrels), 4), "recall100": round(rc / len(qrels), 4)}
        # SciTLDR: all 3,229 papers as the corpus, test TLDRs as questions, is the source the first hit?
        tl_papers = [p for s in ("train", "dev", "test") for p in load_path(DATA / "scitldr" / f"{s}.jsonl")]
        tl_index = SearchIndex.build(tl_papers)
        tl_docs = cached(
            args.cache,
            "scitldr",
            [p.id for p in tl_papers],
            [document_text(p.title, p.abstract) for p in tl_papers],
            encoder,
        )
        tldrs = scitldr_questions(DATA, "test")
        tl_text = [t for _, t in tldrs]
        tl_vecs = cached(args.cache, "scitldr_test_tldrs", sorted(set(tl_text)), sorted(set(tl_text)), encoder)
        hits = {"bm25": 0, "fused": 0}
        for source, text in tldrs:
            ids, bm25, cosine = candidates(text, tl_vecs[text], tl_index, tl_docs)
            for name, w in (("bm25", 0.0), ("fused", weight)):
                if ids:
                    top = ids[int(np.lexsort((np.arange(len(ids)), -fused(bm25, cosine, form, w)))[0])]
                    hits[name] += top == source
        for name, n in hits.items():
            test[f"scitldr_test_hit_at_1_{name}"] = round(n / len(tldrs), 4)
        test["scitldr_test_tldrs"] = len(tldrs)
        test["form"], test["weight"] = form, weight
        report["test"] = test
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
