"""`paperbot ingest` of an arXiv-snapshot-format JSON Lines file at 10k / 100k / 1M records: time and peak memory.

    python bench/ingest_bench.py --size 100k            # also: 10k, 1m; --keep DIR keeps the file and home
    python bench/ingest_bench.py --size 1m --keep /tmp/ib --reuse   # reuse the file built there before

The file is built by resampling real records: titles and abstracts from SciFact and SciTLDR
(../shared/data), wrapped at 80 columns with the snapshot's leading spaces and trailing
newline; ids, versions (RFC 2822 dates), categories, `authors` and `authors_parsed` shaped
like the real snapshot lines in tests/data/real/. Each measurement is a fresh
`python -m bot.cli ingest FILE` process (store + index sync, as a user runs it), timed
wall-clock, with its peak RSS (getrusage) and the peak of the RSS summed over it and its
two record-building workers (psutil). Then the same command again on the unchanged file. Targets (issue #13): 1M in <= 5 min and <= 1.5 GB; re-ingest <= 20% of the first.
The machine is shared, so the load average (1, 5, 15 minutes) is recorded before and after each run.
With `--reuse`, a file of the right size already in `--keep DIR` is used as it is (building the 1M file
takes half a minute, longer on a busy machine); the home is always made afresh.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
SEED = 13
CATEGORIES = [
    "cs.LG",
    "cs.CL",
    "cs.CV",
    "cs.AI",
    "stat.ML",
    "math.CO",
    "cs.CG",
    "hep-th",
    "hep-ph",
    "astro-ph.GA",
    "q-bio.QM",
]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def real_texts() -> list[tuple[str, str]]:
    texts = []
    for line in (DATA / "scifact" / "corpus.jsonl").read_text().splitlines():
        record = json.loads(line)
        texts.append((record["title"], " ".join(record["sentences"])))
    for split in ("train", "dev", "test"):
        for line in (DATA / "scitldr" / f"{split}.jsonl").read_text().splitlines():
            record = json.loads(line)
            texts.append((record.get("title") or "Untitled", " ".join(record["source"])))
    return texts


def real_names() -> list[list[str]]:
    names = []
    for path in (ROOT / "tests" / "data" / "real").glob("snapshot*.jsonl"):
        for line in path.read_text().splitlines():
            names.extend(json.loads(line)["authors_parsed"])
    return [n[:3] for n in names]


def rfc2822(rng: random.Random, year: int) -> str:
    return f"{rng.choice(DAYS)}, {rng.randint(1, 28)} {rng.choice(MONTHS)} {year} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00 GMT"


def build(size: int, path: Path) -> None:
    """Write the file; the same seed gives the same bytes (the wrapped texts are cached, not re-wrapped)."""
    rng = random.Random(SEED)
    texts, names = real_texts(), real_names()
    wrapped: dict[int, tuple[str, str]] = {}
    with path.open("w", encoding="utf-8") as out:
        for i in range(size):
            pick = rng.randrange(len(texts))  # what rng.choice(texts) draws
            if pick not in wrapped:
                title, abstract = texts[pick]
                wrapped[pick] = (
                    "\n  ".join(textwrap.wrap(title, 70)),
                    "  " + "\n".join(textwrap.wrap(abstract, 80)) + "\n",
                )
            title, abstract = wrapped[pick]
            year = rng.randint(2007, 2025)
            authors = rng.sample(names, k=rng.randint(1, min(6, len(names))))
            versions = [{"version": f"v{v + 1}", "created": rfc2822(rng, year + v)} for v in range(rng.randint(1, 3))]
            record = {
                # unique new-style ids: 0001.00000 ... (a month per 100,000 records)
                "id": f"{i // 100000 // 12 + 7:02d}{(i // 100000) % 12 + 1:02d}.{i % 100000:05d}",
                "submitter": " ".join(reversed(authors[0][:2])),
                "authors": ", ".join(" ".join(reversed(a[:2])) for a in authors),
                "title": title,
                "comments": f"{rng.randint(4, 40)} pages",
                "journal-ref": None,
                "doi": None,
                "report-no": None,
                "categories": " ".join(rng.sample(CATEGORIES, k=rng.randint(1, 3))),
                "license": "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
                "abstract": abstract,
                "versions": versions,
                "update_date": f"{year + len(versions) - 1}-06-01",
                "authors_parsed": authors,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def run_cli(*argv: str) -> tuple[float, float, float, dict, float]:
    """Wall seconds, peak RSS of the paperbot process (wait4), peak RSS summed over it and its
    worker processes (psutil, sampled every 0.1 s; pages the forked workers share with it are
    counted twice, so this errs high), the --json output, and the CPU seconds (user + system)
    of the process and its workers: unlike the wall time, that does not depend on how busy the
    other users keep the two cores (wall time >= CPU seconds / 2 here)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    tree_peak = 0
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", *argv, "--json"], env=env, stdout=out)
        watched = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                tree = [watched, *watched.children(recursive=True)]
                tree_peak = max(tree_peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        text = out.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"paperbot {' '.join(argv)} failed ({process.returncode}): {text[-500:]}")
    cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    return seconds, usage.ru_maxrss / 1024, tree_peak / 2**20, json.loads(text), cpu


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: two other people share these two cores."""
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100k", choices=list(SIZES))
    parser.add_argument("--keep", type=Path, help="build the file and home here and keep them")
    parser.add_argument("--reuse", action="store_true", help="with --keep: use the file built there by an earlier run")
    args = parser.parse_args()
    if args.reuse and not args.keep:
        parser.error("--reuse needs --keep DIR (the folder of the earlier run)")
    size = SIZES[args.size]
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"snapshot-{args.size}.jsonl"
        if args.reuse and path.exists() and _lines(path) == size:
            print(f"reusing {path}: {size:,} records, {path.stat().st_size / 1e6:.0f} MB")
        else:
            started = time.perf_counter()
            build(size, path)
            print(
                f"built {path.name}: {size:,} records, {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - started:.0f} s"
            )
        home = folder / f"home-{args.size}"
        shutil.rmtree(home, ignore_errors=True)  # a fresh home every run
        load_before = load_average()
        first_s, first_mb, first_tree, first, first_cpu = run_cli("ingest", str(path), "--home", str(home))
        load_after_first = load_average()
        again_s, again_mb, again_tree, again, again_cpu = run_cli("ingest", str(path), "--home", str(home))
        result = {
            "load_average_before": load_before,
            "load_average_after_first": load_after_first,
            "load_average_after_reingest": load_average(),
            "size": size,
            "file_mb": round(path.stat().st_size / 1e6),
            "first_ingest_and_index_s": round(first_s, 1),
            "first_cpu_s": round(first_cpu, 1),
            "first_peak_rss_mb": round(first_mb),
            "first_peak_rss_with_workers_mb": round(first_tree),
            "first": {k: first[k] for k in ("added", "updated", "unchanged", "papers")},
            "reingest_s": round(again_s, 1),
            "reingest_cpu_s": round(again_cpu, 1),
            "reingest_peak_rss_with_workers_mb": round(again_tree),
            "reingest": {k: again[k] for k in ("added", "updated", "unchanged")},
            "reingest_share_of_first": round(again_s / first_s, 3),
        }
        print(json.dumps(result))


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b""))


if __name__ == "__main__":
    main()
