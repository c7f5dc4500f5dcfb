"""Readers beside writers (issue #25, case 1): do `search` and `ask` wait for a process that holds the index lock?

    python bench/reader_wait.py                       # 100k papers, the code of this checkout
    python bench/reader_wait.py --keep /tmp/rw --reuse # keep (and reuse) the files and the home
    python bench/reader_wait.py --code /path/to/other/checkout   # the same figures for other code (before/after)

Three figures, each from fresh `python -m bot.cli` processes (PAPERBOT_SEMANTIC=false: this is about the
index, not the vector stage), on a home of `--size` papers built by bench/ingest_bench.py's generator:

1. `search` alone, and `search` started the moment another process took HOME/.index.lock (flock, as a saving
   `paperbot ingest` holds it) to hold it until 3.5 s after the search would have reached it (its time alone
   + 3.5 s), alternately, `--runs` times each (median wall seconds). Target: at most 0.2 s over alone.
2. 20 `ask` processes started at once, alone (each one's wall seconds; one ask at a time is printed too:
   20 at once share two cores, so each takes about 10x one alone, with or without writers).
3. The same 20 `ask` processes started at once beside two `paperbot ingest` runs of 1,000 new papers each,
   launched the moment the first ingest's papers are in the store (so the asks find the index behind while
   the ingests catch it up and save it under the lock). Target: each ask within 2x the median of (2), the
   same 20 asks alone.

The machine is shared, so the load averages are printed with the figures; run it twice and compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import ingest_bench  # noqa: E402

QUESTION = "how do you train transformers without normalisation?"
QUERY = "gene expression in oral carcinoma"
ASKERS = 20
NEW_PAPERS = 1_000  # per ingest
HOLD = 3.5  # seconds another process holds the index lock in figure 1 (a save after an ingest, in the issue)


def environment(code: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(code), "PAPERBOT_SEMANTIC": "false", "PAPERBOT_LOG_LEVEL": "WARNING"}


def command(code: Path, home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args, "--home", str(home)],
        env=environment(code),
        cwd=str(code),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def timed_run(code: Path, home: Path, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    process = command(code, home, *args)
    _, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"paperbot {' '.join(args)} failed: {err[-500:]}")
    return time.perf_counter() - started, err


def at_once(code: Path, home: Path, count: int, *args: str) -> tuple[list[float], list[str]]:
    """`count` processes started together: each one's wall seconds and stderr."""
    started = time.perf_counter()
    processes = [command(code, home, *args) for _ in range(count)]
    seconds: list[float | None] = [None] * count
    errors = [""] * count
    while any(s is None for s in seconds):
        for n, process in enumerate(processes):
            if seconds[n] is None and process.poll() is not None:
                seconds[n] = time.perf_counter() - started
        time.sleep(0.01)
    for n, process in enumerate(processes):
        errors[n] = process.stderr.read()
        process.stderr.close()
        if process.returncode != 0:
            raise SystemExit(f"paperbot {' '.join(args)} failed: {errors[n][-500:]}")
    return [float(s) for s in seconds], errors


class LockHolder:
    """Another process holding the home's index lock for `seconds` (as an ingest holds it while it saves)."""

    def __init__(self, home: Path, seconds: float = 3600.0):
        code = (
            "import fcntl, os, time\n"
            f"fd = os.open({str(home / '.index.lock')!r}, os.O_RDWR | os.O_CREAT, 0o644)\n"
            f"fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep({seconds})\n"
        )
        self.process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "held"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


def search_beside_a_save(code: Path, home: Path, seconds: float) -> float:
    """One `search` started the moment another process took the lock for `seconds`: its wall seconds."""
    holder = LockHolder(home, seconds)
    try:
        return timed_run(code, home, "search", QUERY)[0]
    finally:
        holder.stop()


def papers_in(home: Path) -> int:
    db = sqlite3.connect(f"file:{home / 'papers.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
    finally:
        db.close()


def prepare(folder: Path, size: int, reuse: bool) -> tuple[Path, list[Path]]:
    """The base home (built once) and two files of NEW_PAPERS new papers each."""
    source = folder / f"snapshot-{size + 2 * NEW_PAPERS}.jsonl"
    if not (reuse and source.exists()):
        ingest_bench.build(size + 2 * NEW_PAPERS, source)  # the same seed: the first `size` lines are the base
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    base, extra = folder / "base.jsonl", [folder / "new-1.jsonl", folder / "new-2.jsonl"]
    base.write_text("".join(lines[:size]), encoding="utf-8")
    for n, path in enumerate(extra):
        path.write_text("".join(lines[size + n * NEW_PAPERS : size + (n + 1) * NEW_PAPERS]), encoding="utf-8")
    home = folder / "home-base"
    if not (reuse and (home / "papers.sqlite3").exists() and papers_in(home) == size + 13):
        shutil.rmtree(home, ignore_errors=True)
        seconds, _ = timed_run(ROOT, home, "ingest", str(base))
        print(f"built the base home ({size:,} papers) in {seconds:.0f} s", file=sys.stderr)
    return home, extra


def fresh_copy(home: Path, folder: Path, name: str) -> Path:
    copy = folder / name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(home, copy)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="papers in the home (default 100,000)")
    parser.add_argument("--runs", type=int, default=9, help="searches of each kind for figure 1 (default 9)")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose paperbot runs (default: this)")
    parser.add_argument("--keep", type=Path, help="build the files and home here and keep them")
    parser.add_argument("--reuse", action="store_true", help="with --keep: reuse what an earlier run built there")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        base, extra = prepare(folder, args.size, args.reuse)
        code = args.code.resolve()
        result: dict = {"code": str(code), "size": args.size, "load_average_before": os.getloadavg()}

        home = fresh_copy(base, folder, "home-search")
        timed_run(code, home, "search", QUERY)  # warm the page cache
        # the lock is taken as the search starts and held for HOLD s past the time a search takes to start
        # and open the index (its time alone): so it is held when the search gets there, for about HOLD s more
        start_up = statistics.median(timed_run(code, home, "search", QUERY)[0] for _ in range(3))
        alone, held = [], []
        for _ in range(args.runs):  # alternated, so a change in the other users' load falls on both alike
            alone.append(timed_run(code, home, "search", QUERY)[0])
            held.append(search_beside_a_save(code, home, start_up + HOLD))
        result["search_alone_median_s"] = round(statistics.median(alone), 3)
        result["search_lock_held_median_s"] = round(statistics.median(held), 3)
        result["search_lock_held_over_alone_s"] = round(statistics.median(held) - statistics.median(alone), 3)

        home = fresh_copy(base, folder, "home-ask")
        one = [timed_run(code, home, "ask", QUESTION)[0] for _ in range(3)]
        result["ask_one_at_a_time_median_s"] = round(statistics.median(one), 2)
        asks_alone, _ = at_once(code, home, ASKERS, "ask", QUESTION)
        result["ask_x20_alone_s"] = {
            "median": round(statistics.median(asks_alone), 2),
            "max": round(max(asks_alone), 2),
        }

        home = fresh_copy(base, folder, "home-busy")
        before = papers_in(home)
        started = time.perf_counter()
        ingests = [command(code, home, "ingest", str(path)) for path in extra]
        while papers_in(home) == before:  # the first ingest's papers are stored: now it catches the index up
            if all(p.poll() is not None for p in ingests):
                break
            time.sleep(0.02)
        asks_busy, errors = at_once(code, home, ASKERS, "ask", QUESTION)
        for process in ingests:
            _, err = process.communicate()
            if process.returncode != 0:
                raise SystemExit(f"ingest failed: {err[-500:]}")
        result["ingests_s"] = round(time.perf_counter() - started, 1)
        limit = 2 * statistics.median(asks_alone)
        result["ask_x20_beside_two_ingests_s"] = {
            "median": round(statistics.median(asks_busy), 2),
            "max": round(max(asks_busy), 2),
            "within_2x_alone": sum(s <= limit for s in asks_busy),
            "answered_from_the_version_they_had": sum("another paperbot process is saving it" in e for e in errors),
        }
        result["papers_after"] = papers_in(home)
        result["load_average_after"] = os.getloadavg()
        print(json.dumps(result))


if __name__ == "__main__":
    main()
