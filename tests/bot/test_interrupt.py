"""Ctrl-C and SIGTERM stop a command within 2 s, keep what it committed, say what was done, exit 130 (143).

The real CLI as a subprocess in its own process group (a terminal's Ctrl-C reaches the workers
too), on a generated JSON Lines file; a local fake OAI-PMH server (127.0.0.1) for the harvest.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.corpus.test_harvest import FakeArxiv

ROOT = Path(__file__).resolve().parents[2]
STOP_WITHIN = 2.0  # seconds, the promise
BUNDLED = 13


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PAPERBOT_SEMANTIC": "false", **extra}


def write_records(path: Path, count: int, start: int = 0) -> None:
    words = "sparse attention graph learning vision language model training data robust noise".split()
    with path.open("w", encoding="utf-8") as out:
        for n in range(start, start + count):
            record = {
                "id": f"2301.{n:05d}",
                "title": f"Study {n} of {words[n % 11]} {words[(n * 7) % 11]}",
                "authors": "Ann Smith and Bob Jones",
                "categories": "cs.LG",
                "abstract": " ".join(f"We study {words[(n + k) % 11]} in setting {k} of {n}." for k in range(8)),
            }
            out.write(json.dumps(record) + "\n")


class Run:
    """`paperbot ARGS --home HOME` started in its own process group, stderr collected as it comes."""

    def __init__(self, home: Path, *args: str, **extra_env: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args, "--home", str(home)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(**extra_env),
            start_new_session=True,
        )
        self.err: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.err.append(line)

    def stop(self, signum: int = signal.SIGINT, again: bool = True) -> tuple[int, float]:
        """Signal the whole group (as a terminal does), again 0.1 s later; (exit status, seconds to exit)."""
        started = time.monotonic()
        os.killpg(self.process.pid, signum)
        if again:
            time.sleep(0.1)
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                pass
        code = self.process.wait(timeout=30)
        seconds = time.monotonic() - started
        self.reader.join(timeout=5)
        return code, seconds

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def group_left(self) -> list[str]:
        """The processes of its group (the workers) still running a moment after it exited (zombies aside)."""
        time.sleep(0.5)
        left = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.process.pid and fields[0] != "Z":  # fields: state, ppid, pgrp
                left.append(f"{stat.parent.name} {fields[0]}")
        return left


def count_papers(home: Path) -> int:
    db = sqlite3.connect(home / "papers.sqlite3")
    try:
        return db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
    except sqlite3.OperationalError:  # being created
        return 0
    finally:
        db.close()


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("records")
    write_records(folder / "a_small.jsonl", 300)
    write_records(folder / "b_big.jsonl", 60_000, start=1000)
    return folder


def test_ctrl_c_during_an_ingest_stops_in_2s_keeps_the_stored_file_and_says_how_to_continue(tmp_path, files):
    home = tmp_path / "home"
    run = Run(home, "ingest", str(files))
    wait_for(lambda: (home / "papers.sqlite3").exists() and count_papers(home) >= BUNDLED + 300)  # a_small stored
    time.sleep(1.0)  # well into b_big
    code, seconds = run.stop(signal.SIGINT)
    assert code == 130, run.stderr
    assert seconds < STOP_WITHIN, seconds
    assert "Traceback" not in run.stderr
    line = next(line for line in run.stderr.splitlines() if "stopped (Ctrl-C)" in line)
    assert "b_big.jsonl" in line and "records" in line and "1 file stored before it (300 added" in line, line
    assert "Run the same command to continue" in line
    assert not run.group_left()  # the workers were stopped, not left running
    assert count_papers(home) == BUNDLED + 300  # what was committed is kept; the file cut short is not half there


def test_sigterm_stops_an_ingest_the_same_way_with_143(tmp_path, files):
    home = tmp_path / "home"
    run = Run(home, "ingest", str(files / "b_big.jsonl"))
    wait_for(lambda: "created a new home" in run.stderr)
    time.sleep(1.5)
    code, seconds = run.stop(signal.SIGTERM, again=False)
    assert code == 143 and seconds < STOP_WITHIN, (code, seconds, run.stderr)
    assert "stopped (SIGTERM)" in run.stderr and "Traceback" not in run.stderr
    assert "no file was stored before it" in run.stderr
    assert not run.group_left()


def test_ctrl_c_while_a_harvest_waits_for_arxiv_names_the_wait_stops_and_the_next_run_continues(tmp_path):
    home = tmp_path / "home"
    args = ("harvest", "--set", "cs", "--from", "2024-01-01", "--delay", "0")
    with FakeArxiv() as fake:
        fake.script = {2: "hang"}  # page two does not come
        run = Run(home, *args, PAPERBOT_ARXIV_OAI_URL=fake.url)
        wait_for(lambda: "paperbot: waiting for 127.0.0.1" in run.stderr)  # a wait over 2 s says what it waits for
        code, seconds = run.stop(signal.SIGINT)
        assert code == 130 and seconds < STOP_WITHIN, (code, seconds, run.stderr)
        assert "Traceback" not in run.stderr
        assert "resumptionToken=tok1" in run.stderr  # the request it was waiting for
        assert "stopped (Ctrl-C): 1 page stored in this run" in run.stderr
        assert "Run the same command to continue" in run.stderr
        again = subprocess.run(
            [sys.executable, "-m", "bot.cli", *args, "--home", str(home), "--json"],
            capture_output=True,
            text=True,
            env=env(PAPERBOT_ARXIV_OAI_URL=fake.url),
            timeout=120,
        )
    assert again.returncode == 0, again.stderr
    out = json.loads(again.stdout)
    assert out["resumed"] and out["done"] and out["pages"] == 2  # it went on from the page it stopped at
