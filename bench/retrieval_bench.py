"""Retrieval speed: paperbot's index vs rank-bm25 vs bm25s, on SciFact and synthetic 100k / 1M corpora.

    pip install '.[bench]'
    python bench/retrieval_bench.py --sizes scifact 100k 1m --out bench/out/retrieval.json

Each (system, corpus) runs in its own subprocess so peak RSS is its own. Synthetic
corpora resample real sentences from ../shared/data (SciFact + SciTLDR) with a fixed
seed; queries are SciFact's 1,109 claims. rank-bm25 answers a sample of queries on the
large corpora because each one takes a second or more.

paperbot's query is what `search` ranks: BM25's top 10 with the top 5 re-ordered by the question's word
pairs (retrieval/lexical/proximity.py, read from the index). The claims are run twice: `first_pass` is a
fresh process meeting every word for the first time (the speller looks each unknown one up in English, and
loads wordfreq's table on the first), the main figures are the second pass, as a running bot meets words it
has seen; `bm25_only` then times BM25 alone. Each step records the load average (1, 5, 15 minutes) after it
ran: the machine is shared. When both paperbot and bm25s run, a last step (`interleaved`) loads both saved
indexes in one process and times them taking turns query by query, after one untimed pass of each: the
ratio of that step does not move with the machine between two separate runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SIZES = {"scifact": 0, "100k": 100_000, "1m": 1_000_000}
SEED = 20240308


def claims() -> list[str]:
    return [json.loads(line)["text"] for line in (DATA / "scifact" / "queries.jsonl").read_text().splitlines()]


def corpus(size: str):
    """(id, title, abstract, year) tuples: SciFact as it is, or a resampled synthetic corpus."""
    scifact = [json.loads(line) for line in (DATA / "scifact" / "corpus.jsonl").read_text().splitlines()]
    if size == "scifact":
        return [(r["doc_id"], r["title"], " ".join(r["sentences"]), 2020) for r in scifact]
    sentences, titles = [], []
    for r in scifact:
        sentences += r["sentences"]
        titles.append(r["title"])
    for split in ("train", "dev", "test"):
        for line in (DATA / "scitldr" / f"{split}.jsonl").read_text().splitlines():
            r = json.loads(line)
            sentences += r["source"]
            titles.append(r["title"])
    rng = random.Random(SEED)
    return [
        (f"syn{i}", rng.choice(titles), " ".join(rng.choices(sentences, k=rng.randint(5, 12))), rng.randint(1995, 2025))
        for i in range(SIZES[size])
    ]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_queries(search, queries: list[str]) -> dict:
    times = []
    started = time.perf_counter()
    for query in queries:
        t = time.perf_counter()
        search(query)
        times.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - started
    times.sort()
    return {
        "queries": len(queries),
        "p50_ms": round(statistics.median(times), 3),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 3),
        "qps": round(len(queries) / wall, 1),
    }


def run_paperbot(size: str, workdir: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from retrieval.lexical.index import IndexDoc, SearchIndex

    docs = corpus(size)
    papers = (IndexDoc(i, f"{t}\n{a}", year) for i, t, a, year in docs)  # what the store streams for a rebuild
    started = time.perf_counter()
    index = SearchIndex.build(papers, workers=2)
    build = time.perf_counter() - started
    folder = workdir / "index"
    index.save(folder)
    build_rss = peak_rss_mb()
    size_mb = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20  # version folder + CURRENT
    del index, docs
    return {"build_s": round(build, 2), "build_peak_rss_mb": round(build_rss), "disk_mb": round(size_mb, 1)}


def run_paperbot_serve(size: str, workdir: Path) -> dict:
    """A fresh process: load the saved index (as after a restart), then answer every claim."""
    sys.path.insert(0, str(ROOT))
    from retrieval.lexical.index import SearchIndex

    base_rss = peak_rss_mb()
    started = time.perf_counter()
    index = SearchIndex.load(workdir / "index").warm()  # load includes the first-query warm-up
    load = time.perf_counter() - started
    result = {
        "load_s": round(load, 2),
        "serve_rss_mb": round(peak_rss_mb()),
        "index_rss_mb": round(peak_rss_mb() - base_rss),
    }

    with_pairs = paperbot_search(index)
    result["first_pass"] = timed_queries(with_pairs, claims())  # every word seen for the first time
    result.update(timed_queries(with_pairs, claims()))  # as a running bot: words seen before
    result["bm25_only"] = timed_queries(lambda q: index.search(q, 10), claims())
    # a day's new papers: 300 more abstracts appended to the loaded index, then saved
    from retrieval.lexical.index import IndexDoc

    rng = random.Random(1)
    day = [IndexDoc(f"new{i}", f"{t}\n{a}", 2026) for i, (_, t, a, _) in enumerate(rng.sample(corpus("scifact"), 300))]
    started = time.perf_counter()
    index.add(day)
    index.save(workdir / "index")
    result["add_300_and_save_s"] = round(time.perf_counter() - started, 2)
    return result


def paperbot_search(index):
    """What `search` ranks: BM25's top 10 with the top 5 re-ordered by word pairs."""
    from retrieval.lexical import proximity

    def with_pairs(query: str) -> None:
        proximity.by_pairs(query, index.search(query, max(10, proximity.DEPTH)), None, index)[:10]

    return with_pairs


def bm25s_search(model):
    """bm25s's query as its README shows it: tokenize (English stop words, Snowball stemmer), retrieve the top 10."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")

    def search(query: str) -> None:
        query_tokens = bm25s.tokenize([query], stopwords="en", stemmer=stemmer, show_progress=False)
        if query_tokens.vocab:
            model.retrieve(query_tokens, k=10, show_progress=False)

    return search


def run_interleaved(size: str, workdir: Path) -> dict:
    """paperbot and bm25s in one fresh process, both loaded from what the two steps before saved, taking turns
    query by query (who goes first alternates), so that both meet the same machine from one moment to the next:
    the runs above are a minute or two apart, and the machine's speed moved bm25s's QPS by 70% between runs."""
    sys.path.insert(0, str(ROOT))
    import bm25s

    from retrieval.lexical.index import SearchIndex

    ours = paperbot_search(SearchIndex.load(workdir / "index").warm())
    theirs = bm25s_search(bm25s.BM25.load(workdir / "bm25s"))
    queries = claims()
    for query in queries:  # the first pass, untimed: each meets every word once (paperbot's speller looks it up)
        ours(query)
        theirs(query)
    times: dict[str, list[float]] = {"paperbot": [], "bm25s": []}
    for n, query in enumerate(queries):
        for name, search in (("paperbot", ours), ("bm25s", theirs))[:: 1 if n % 2 == 0 else -1]:
            started = time.perf_counter()
            search(query)
            times[name].append((time.perf_counter() - started) * 1000)
    result: dict = {}
    for name, values in times.items():
        values.sort()
        result[name] = {
            "p50_ms": round(statistics.median(values), 3),
            "p99_ms": round(values[min(len(values) - 1, int(len(values) * 0.99))], 3),
            "qps": round(1000 * len(values) / sum(values), 1),  # from the query times alone
        }
    result["qps_vs_bm25s"] = round(result["paperbot"]["qps"] / result["bm25s"]["qps"], 2)
    return result


def run_rank_bm25(size: str, workdir: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from rank_bm25 import BM25Okapi

    from retrieval.lexical.analyzer import Analyzer

    analyzer = Analyzer()
    docs = corpus(size)
    started = time.perf_counter()
    model = BM25Okapi([analyzer(f"{t}\n{a}") for _, t, a, _ in docs])
    build = time.perf_counter() - started
    queries = claims() if size == "scifact" else claims()[:: 1109 // 30][:30]
    result = {"build_s": round(build, 2), "build_peak_rss_mb": round(peak_rss_mb())}
    result.update(timed_queries(lambda q: model.get_top_n(analyzer(q), docs, 10), queries))
    return result


def run_bm25s(size: str, workdir: Path) -> dict:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    docs = corpus(size)
    started = time.perf_counter()
    tokens = bm25s.tokenize([f"{t}\n{a}" for _, t, a, _ in docs], stopwords="en", stemmer=stemmer, show_progress=False)
    model = bm25s.BM25(k1=1.5, b=0.75)
    model.index(tokens, show_progress=False)
    build = time.perf_counter() - started
    model.save(workdir / "bm25s")
    result = {"build_s": round(build, 2), "build_peak_rss_mb": round(peak_rss_mb())}
    del model, docs, tokens
    started = time.perf_counter()
    model = bm25s.BM25.load(workdir / "bm25s")
    result["load_s"] = round(time.perf_counter() - started, 2)
    result.update(timed_queries(bm25s_search(model), claims()))
    return result


SYSTEMS = {
    "paperbot": run_paperbot,
    "paperbot_serve": run_paperbot_serve,
    "rank_bm25": run_rank_bm25,
    "bm25s": run_bm25s,
    "interleaved": run_interleaved,
}


def child(system: str, size: str, workdir: str) -> None:
    result = SYSTEMS[system](size, Path(workdir))
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="+", default=["scifact", "100k"], choices=list(SIZES))
    parser.add_argument("--systems", nargs="+", default=["paperbot", "rank_bm25", "bm25s"])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    results: dict = {}
    for size in args.sizes:
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-{size}-"))
        results[size] = {}
        steps = []
        for system in args.systems:
            steps += ["paperbot", "paperbot_serve"] if system == "paperbot" else [system]
        if "paperbot" in args.systems and "bm25s" in args.systems:
            steps.append("interleaved")  # both indexes were saved by the steps above
        for system in steps:
            out = subprocess.run(
                [sys.executable, __file__, "--child", system, size, str(workdir)], capture_output=True, text=True
            )
            if out.returncode != 0:
                results[size][system] = {"error": out.stderr.strip().splitlines()[-1:]}
            else:
                results[size][system] = json.loads(out.stdout.strip().splitlines()[-1])
            print(size, system, results[size][system], flush=True)
        shutil.rmtree(workdir, ignore_errors=True)
        ours, ref = results[size].get("paperbot_serve", {}), results[size].get("rank_bm25", {})
        if "qps" in ours and "qps" in ref:
            results[size]["qps_vs_rank_bm25"] = round(ours["qps"] / ref["qps"], 1)
        if "qps" in ours and "qps" in results[size].get("bm25s", {}):
            results[size]["qps_vs_bm25s"] = round(ours["qps"] / results[size]["bm25s"]["qps"], 2)
        if "qps_vs_bm25s" in results[size].get("interleaved", {}):
            results[size]["qps_vs_bm25s_interleaved"] = results[size]["interleaved"]["qps_vs_bm25s"]
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
