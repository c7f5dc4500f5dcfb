"""`ask` end to end (retrieve, select sentences, render) on a 100k-abstract store, and `search` with and without
the second stage (retrieval/lexical/rerank.py, BM25's top 50 re-ranked) on the same store.

    python bench/ask_bench.py --size 100k
    python bench/ask_bench.py --size 100k --semantic   # with the semantic stage (issue #16: p95 <= 50 ms)

The corpus is the synthetic one of retrieval_bench.py (real sentences resampled, fixed
seed), stored in a real SQLite file; queries are SciFact's 1,109 claims.

With --semantic, each synthetic paper's vector is the real vector of a SciFact abstract (by its number; from
the eval cache `paperbot eval vectors` fills): encoding 100k abstracts would
take most of an hour, and the timing does not depend on which vector a paper has. Each question is encoded
for real, BM25's top 1,000 fused, judged by the semantic model. Because the stand-in vectors do not match the
texts, how many are answered differs from a real corpus, so the p95 of the answered questions alone is
reported too (an answer costs more than an abstention). Each claim is asked, then searched: the search
finds the claim's vector kept by the stage (as when a user searches what they asked); with --semantic a
second pass (`search_fresh`) searches every claim again with that cache emptied first, so each search
encodes its query. The load average (1, 5, 15 minutes) is recorded before and after: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import retrieval_bench as rb  # noqa: E402

from corpus.models import Paper  # noqa: E402
from corpus.store import Store  # noqa: E402
from retrieval.answers.answer import answer_question, render_answer_text  # noqa: E402
from retrieval.answers.search import SearchRequest, run_search  # noqa: E402
from retrieval.lexical.sync import open_index  # noqa: E402


def synthetic_papers(size: str):
    """Like retrieval_bench.corpus, but keeping each abstract's sentences (as a loader would)."""
    scifact = [json.loads(line) for line in (rb.DATA / "scifact" / "corpus.jsonl").read_text().splitlines()]
    sentences = [s for r in scifact for s in r["sentences"]]
    titles = [r["title"] for r in scifact]
    rng = random.Random(rb.SEED)
    for i in range(rb.SIZES[size]):
        chosen = rng.choices(sentences, k=rng.randint(5, 12))
        yield Paper(
            id=f"syn{i}",
            title=rng.choice(titles),
            abstract=" ".join(chosen),
            sentences=chosen,
            published=f"{rng.randint(1995, 2025)}-01-01",
        )


def stand_in_stage(home: Path, store: Store):
    """The semantic stage over the synthetic store, paper synN given SciFact abstract N mod 5,183's real vector."""
    from retrieval.quality.benchmarks import eval_vectors_home
    from retrieval.semantic.encoder import load_encoder
    from retrieval.semantic.stage import SemanticStage
    from retrieval.semantic.vectors import VectorStore, content_hash

    encoder = load_encoder()
    source = VectorStore.for_model(eval_vectors_home(), encoder.model_id)
    scifact = [str(json.loads(line)["doc_id"]) for line in (rb.DATA / "scifact" / "corpus.jsonl").open()]
    vectors = VectorStore.for_model(home, encoder.model_id)
    batch: list[Paper] = []
    for paper in [*store.papers(), None]:
        if paper is not None:
            batch.append(paper)
        if batch and (paper is None or len(batch) == 20_000):
            found, have = source.lookup([scifact[int(p.id[3:]) % len(scifact)] for p in batch])
            if not have.all():
                raise SystemExit("SciFact vectors missing: run `paperbot eval vectors` first")
            vectors.add([p.id for p in batch], [content_hash(p.title, p.abstract) for p in batch], found)
            batch = []
    return SemanticStage(encoder, vectors)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="100k", choices=["100k", "1m"])
    parser.add_argument("--semantic", action="store_true", help="ask and search through the semantic stage")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        started = time.perf_counter()
        with Store(Path(home) / "papers.sqlite3") as store:
            store.ingest(synthetic_papers(args.size))
            stored = time.perf_counter() - started
            index = open_index(Path(home), store, workers=2).warm()
            stage = stand_in_stage(Path(home), store) if args.semantic else None
            times, found, answered_ms = [], 0, []
            search_ms: dict[str, list[float]] = {"search": [], "search_rerank": []}
            load_before = [round(x, 2) for x in os.getloadavg()]
            for claim in rb.claims():
                t = time.perf_counter()
                answer = answer_question(claim, index, store, stage=stage)
                render_answer_text(answer)
                times.append((time.perf_counter() - t) * 1000)
                found += answer.found
                if answer.found:
                    answered_ms.append(times[-1])
                for key, rerank in (("search", False), ("search_rerank", True)):
                    t = time.perf_counter()
                    run_search(index, store, SearchRequest(query=claim, k=10, rerank=rerank), stage)
                    search_ms[key].append((time.perf_counter() - t) * 1000)
            if stage is not None:
                search_ms["search_fresh"] = []
                for claim in rb.claims():
                    stage.forget_queries()
                    t = time.perf_counter()
                    run_search(index, store, SearchRequest(query=claim, k=10), stage)
                    search_ms["search_fresh"].append((time.perf_counter() - t) * 1000)
            load_after = [round(x, 2) for x in os.getloadavg()]
    times.sort()
    answered_ms.sort()
    for values in search_ms.values():
        values.sort()
    print(
        json.dumps(
            {
                "papers": rb.SIZES[args.size],
                "store_s": round(stored, 1),
                "questions": len(times),
                "answered": found,
                "p50_ms": round(statistics.median(times), 2),
                "p95_ms": round(times[int(len(times) * 0.95)], 2),
                "p99_ms": round(times[int(len(times) * 0.99)], 2),
                "semantic": args.semantic,
                "answered_p95_ms": round(answered_ms[int(len(answered_ms) * 0.95)], 2) if answered_ms else None,
                **{
                    f"{key}_{q}_ms": round(values[int(len(values) * f)], 2)
                    for key, values in search_ms.items()
                    for q, f in (("p50", 0.5), ("p95", 0.95))
                },
                "load_before": load_before,
                "load_after": load_after,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
