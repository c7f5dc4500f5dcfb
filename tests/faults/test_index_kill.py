"""kill -9 during an index build: the pool workers must die with their parent, not run on forever.

Before the fix, both workers of a killed build kept running (~210 MB each), holding the store.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import time
from pathlib import Path

from tests.faults.store_helpers import assert_no_orphans_after_kill, children, cli, make_home, start

PAPERS = 20_000  # one chunk of the build: long enough to catch the workers at work


def big_store(home: Path) -> None:
    """Rows written straight into the store (building 40,000 Paper records would take longer than the test)."""
    rng = random.Random(7)
    vocabulary = [f"term{n}" for n in range(5000)]
    db = sqlite3.connect(home / "papers.sqlite3")
    with db:
        seq = int(db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()[0])
        rows = []
        for i in range(PAPERS):
            seq += 1
            text = " ".join(rng.choices(vocabulary, k=60))
            record = json.dumps({"id": f"bulk-{i}", "title": f"Bulk paper {i}", "abstract": text})
            rows.append((f"bulk-{i}", None, f"h{i}", record, None, "bulk", "2024-01-01T00:00:00+00:00", seq))
        db.executemany(
            "INSERT INTO papers (id, version, hash, record, published, source, added_at, seq) VALUES (?,?,?,?,?,?,?,?)",
            rows,
        )
        db.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (str(seq),))
    db.close()


def test_kill_9_during_a_build_leaves_no_workers(tmp_path: Path):
    home = make_home(tmp_path / "home")
    big_store(home)
    for _ in range(3):
        shutil.rmtree(home / "index", ignore_errors=True)
        process = start(home, "corpus")  # no saved index: a full rebuild with two workers
        workers: list[int] = []
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            workers = children(process.pid)
            if workers:
                break
            time.sleep(0.005)
        if not workers:  # the build finished before we saw it; try again on a fresh index
            process.communicate()
            continue
        assert_no_orphans_after_kill(process, workers)
        break
    else:
        raise AssertionError("never caught a build's workers running")
    result = cli(home, "corpus")  # and the next command rebuilds normally
    assert result.returncode == 0 and f"{13 + PAPERS} papers" in result.stdout, result.stderr
    assert not list(home.glob(".index-build-*"))  # the killed build's scratch files are cleared away
