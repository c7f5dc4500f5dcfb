"""kill -9 during a big ingest: the record-building workers die with it, and the store is as it was."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.faults.store_helpers import cli, make_home, start, store_ids, write_papers
from tests.faults.test_index_kill import alive, children


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
        time.sleep(0.2)
        workers = children(process.pid) or workers  # every worker started by now
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stdout.close()  # not read: orphaned workers would hold the pipes open
        process.stderr.close()
        gone = time.monotonic() + 5
        while any(alive(pid) for pid in workers) and time.monotonic() < gone:
            time.sleep(0.05)
        survivors = [pid for pid in workers if alive(pid)]
        for pid in survivors:  # clean up after a failure: these are this test's processes
            os.kill(pid, signal.SIGKILL)
        assert not survivors, f"workers {survivors} outlived their killed parent"
        break
    else:
        raise AssertionError("never caught an ingest's workers running")
    stored = store_ids(home)
    assert len(stored) in (13, 13 + 12_000)  # one transaction: all or nothing
    result = cli(home, "check", "--no-token")
    assert result.returncode == 0, result.stdout
