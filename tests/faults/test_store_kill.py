"""kill -9 during a big ingest: the record-building workers die with it, and the store is as it was."""

from __future__ import annotations

import time
from pathlib import Path

from tests.faults.store_helpers import (
    assert_no_orphans_after_kill,
    children,
    cli,
    make_home,
    start,
    store_ids,
    write_papers,
)


def test_kill_9_during_an_ingest_leaves_no_workers_and_nothing_half_stored(tmp_path: Path):
    home = make_home(tmp_path / "home")
    path = tmp_path / "big.jsonl"
    write_papers(path, "bigingest", 12_000)  # several batches: built by two forked workers
    for _ in range(3):
        process = start(home, "ingest", str(path))
        workers: list[int] = []
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            workers = children(process.pid)
            if workers:
                break
            time.sleep(0.005)
        if not workers:  # finished before we saw its workers: cannot happen twice at this size
            process.communicate()
            continue
        assert_no_orphans_after_kill(process, workers)
        break
    else:
        raise AssertionError("never caught an ingest's workers running")
    stored = store_ids(home)
    assert len(stored) in (13, 13 + 12_000)  # one transaction: all or nothing
    result = cli(home, "check", "--no-token")
    assert result.returncode == 0, result.stdout
