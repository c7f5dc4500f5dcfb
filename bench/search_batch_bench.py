"""`paperbot search --batch` over SciFact's 1,109 claims against rank-bm25 scoring the same claims, whole processes.

    python bench/search_batch_bench.py                 # 3 rounds, each: paperbot, then rank-bm25
    python bench/search_batch_bench.py --rounds 5 --out bench/out/search_batch.json
    python bench/search_batch_bench.py --before /tmp/old   # also another checkout's paperbot, each round

The paperbot side is what a user runs: `paperbot search --batch CLAIMS --no-semantic --k 10 --home HOME`
in a fresh process (start-up, the store and the saved index opened, BM25, the word-pair order, the
records of the ten hits read, JSON Lines out), on a home that `paperbot ingest` filled with SciFact's
corpus before the timing (and one untimed run, so the index is saved in this paperbot's format). The
reference is rank-bm25 in a fresh process: SciFact's corpus read, analyzed with paperbot's analyzer,
`BM25Okapi` built, every claim scored and its ten best taken. Each round runs the two one after the
other, so both see the same machine; the figures are the median over the rounds of the wall time and
of the CPU seconds (user + system, which depend less on how busy the other users keep the two cores),
and the ratios rank-bm25 / paperbot of those medians. The load average is recorded before and after.
Each round also times `paperbot search --batch` of an empty file (`startup`: the process starting, its
imports, the store opened; no query), the floor under the paperbot figure.
With `--before DIR` each round also times the paperbot of another checkout (say, `git archive` of an
earlier commit unpacked in DIR, run with DIR first on PYTHONPATH) on a home of its own that it ingested.
"""

from __future__ import annotations

import argparse
import json
import os
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


def paperbot_command(checkout: Path | None = None) -> list[str]:
    script = Path(sys.executable).parent / "paperbot"
    if checkout is None and script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from bot.cli import main; main()"]


def timed(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict:
    """Run a command to its end: wall seconds, CPU seconds (its own and its children's), its stdout lines."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False, cwd=cwd)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])}…: exit {done.returncode}\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "lines": done.stdout.count("\n")}


def rank_bm25_child(claims_path: str) -> None:
    """The reference, in its own process: rank-bm25 over SciFact with paperbot's analyzer, ten best per claim."""
    import numpy as np
    from rank_bm25 import BM25Okapi

    from retrieval.lexical.analyzer import Analyzer
    from retrieval.lexical.bm25 import BM25Params

    analyzer, params = Analyzer(), BM25Params()
    records = [json.loads(line) for line in (DATA / "scifact" / "corpus.jsonl").read_text().splitlines()]
    ids = [str(r["doc_id"]) for r in records]
    model = BM25Okapi(
        [analyzer(f"{r['title']}\n{' '.join(r['sentences'])}") for r in records],
        k1=params.k1,
        b=params.b,
        epsilon=params.epsilon,
    )
    out = []
    for line in Path(claims_path).read_text().splitlines():
        claim = json.loads(line)
        scores = model.get_scores(analyzer(claim["text"]))
        best = np.argsort(-scores, kind="stable")[:10]
        hits = [{"paper_id": ids[i], "score": round(float(scores[i]), 6)} for i in best if scores[i] > 0]
        out.append(json.dumps({"id": claim["id"], "hits": hits}))
    sys.stdout.write("\n".join(out) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--before", type=Path, metavar="DIR", help="also time the paperbot of this checkout")
    parser.add_argument("--rank-bm25-child", metavar="CLAIMS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rank_bm25_child:
        sys.path.insert(0, str(ROOT))
        return rank_bm25_child(args.rank_bm25_child)
    work = Path(tempfile.mkdtemp(prefix="search-batch-"))
    try:
        home, claims, empty = work / "home", work / "claims.jsonl", work / "empty.jsonl"
        empty.write_text("")
        with claims.open("w") as out:
            for line in (DATA / "scifact" / "queries.jsonl").read_text().splitlines():
                record = json.loads(line)
                out.write(json.dumps({"id": record["query_id"], "text": record["text"]}) + "\n")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("PAPERBOT_HOME", None)
        ours = [*paperbot_command(), "search", "--batch", str(claims), "--no-semantic", "--k", "10"]
        ours += ["--home", str(home)]
        ingest = timed(
            [*paperbot_command(), "ingest", str(DATA / "scifact" / "corpus.jsonl"), "--home", str(home)], env
        )
        timed(ours, env)  # untimed: the index saved in this paperbot's format
        before = before_env = None
        if args.before:
            before_env = {**env, "PYTHONPATH": str(args.before.resolve())}
            old = paperbot_command(args.before)
            corpus = str(DATA / "scifact" / "corpus.jsonl")
            checkout = args.before.resolve()  # its working folder too: `python -c` puts that first on sys.path
            timed([*old, "ingest", corpus, "--home", str(work / "home-before")], before_env, checkout)
            before = [*old, *ours[len(paperbot_command()) :]]
            before[before.index("--home") + 1] = str(work / "home-before")
            timed(before, before_env, checkout)
        reference = [sys.executable, str(Path(__file__).resolve()), "--rank-bm25-child", str(claims)]
        result: dict = {
            "claims": sum(1 for _ in claims.open()),
            "ingest_s": ingest["wall_s"],
            "load_before": [round(x, 2) for x in os.getloadavg()],
            "rounds": [],
        }
        for n in range(args.rounds):
            round_ = {"paperbot": timed(ours, env), "rank_bm25": timed(reference, env)}
            round_["startup"] = timed(
                [*ours[: ours.index("--batch") + 1], str(empty), *ours[ours.index("--batch") + 2 :]], env
            )
            if before is not None:
                round_["before"] = timed(before, before_env, checkout)
            round_["wall_ratio"] = round(round_["rank_bm25"]["wall_s"] / round_["paperbot"]["wall_s"], 2)
            round_["cpu_ratio"] = round(round_["rank_bm25"]["cpu_s"] / round_["paperbot"]["cpu_s"], 2)
            round_["load"] = [round(x, 2) for x in os.getloadavg()]
            result["rounds"].append(round_)
            print(f"round {n + 1}: {json.dumps(round_)}", file=sys.stderr, flush=True)
        result["load_after"] = [round(x, 2) for x in os.getloadavg()]
        for system in ("paperbot", "rank_bm25", "startup", *(("before",) if before is not None else ())):
            for key in ("wall_s", "cpu_s"):
                result[f"{system}_{key}"] = round(statistics.median(r[system][key] for r in result["rounds"]), 3)
        result["wall_ratio"] = round(result["rank_bm25_wall_s"] / result["paperbot_wall_s"], 2)
        result["cpu_ratio"] = round(result["rank_bm25_cpu_s"] / result["paperbot_cpu_s"], 2)
        if before is not None:
            result["before_wall_ratio"] = round(result["rank_bm25_wall_s"] / result["before_wall_s"], 2)
            result["before_cpu_ratio"] = round(result["rank_bm25_cpu_s"] / result["before_cpu_s"], 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
