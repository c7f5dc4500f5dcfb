"""Helpers for the store/index/check fault tests: the real CLI as a subprocess on a real home."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


def env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": GOOD_TOKEN,
        "PAPERBOT_LOG_LEVEL": "WARNING",
        "PAPERBOT_SEMANTIC": "false",  # these tests are about the store and the BM25 index, not the vector stage
    }


def cli_args(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", *args, "--home", str(home)]


def cli(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `paperbot ARGS --home HOME` and return the finished process (text output)."""
    return subprocess.run(
        cli_args(home, *args), capture_output=True, text=True, env=env(), timeout=timeout, check=False
    )


def start(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(cli_args(home, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())


def no_traceback(result: subprocess.CompletedProcess | tuple[str, str]) -> None:
    out, err = (result.stdout, result.stderr) if hasattr(result, "stdout") else result
    assert "Traceback" not in out + err, out + err


def one_line(text: str) -> str:
    """The stderr of a command that must fail with exactly one line."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def write_papers(path: Path, tag: str, count: int) -> list[str]:
    """A JSON Lines file of `count` papers, each with a made-up word of its own in the title; returns the words."""
    words = [word_for(tag, i) for i in range(count)]
    with path.open("w", encoding="utf-8") as out:
        for i, word in enumerate(words):
            record = {
                "id": f"fault-{tag}-{i:04d}",
                "title": f"{word.capitalize()} as a probe of concurrent ingest",
                "abstract": f"We describe {word} in detail. It is a made-up word that only this paper uses.",
            }
            out.write(json.dumps(record) + "\n")
    return words


def word_for(tag: str, i: int) -> str:
    """A letters-only word unique to (tag, i), so BM25 finds exactly one paper for it."""
    letters = "bcdfghjklmnpqrstvwxz"
    n = (zlib.crc32(tag.encode()) % 10_000) * 10_000 + i
    word = ""
    for _ in range(7):
        n, r = divmod(n, len(letters))
        word += letters[r]
    return "qu" + word + "o"


def store_ids(home: Path) -> list[str]:
    import sqlite3

    db = sqlite3.connect(home / "papers.sqlite3")
    try:
        return [row[0] for row in db.execute("SELECT id FROM papers ORDER BY id")]
    finally:
        db.close()


def duplicate_sequence_numbers(home: Path) -> int:
    """How many papers share a change number with another (each change must have its own)."""
    import sqlite3

    db = sqlite3.connect(home / "papers.sqlite3")
    try:
        return db.execute("SELECT COUNT(*) - COUNT(DISTINCT seq) FROM papers").fetchone()[0]
    finally:
        db.close()


def make_home(base: Path) -> Path:
    result = cli(base, "corpus")
    assert result.returncode == 0, result.stderr
    return base


def copy_home(base: Path, tmp_path: Path) -> Path:
    """A copy of a home made once per module (a CLI start costs ~0.5 s; copying, milliseconds)."""
    home = tmp_path / "home"
    shutil.copytree(base, home)
    return home


def can_make_immutable(path: Path) -> bool:
    """Root ignores permission bits, so read-only cases use `chattr +i` (skipped where unsupported)."""
    chattr = shutil.which("chattr")
    if chattr is None:
        return False
    if subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
        return False
    subprocess.run([chattr, "-i", str(path)], check=True)
    return True


class Immutable:
    """`with Immutable(path):` makes a file or folder unwritable, even for root (chattr +i), then restores it."""

    def __init__(self, *paths: Path):
        self.paths = paths

    def __enter__(self) -> Immutable:
        if os.geteuid() != 0:
            for path in self.paths:
                path.chmod(0o555 if path.is_dir() else 0o444)
            return self
        for path in self.paths:
            if not can_make_immutable(path):
                pytest.skip("chattr +i is not available here: cannot make a path unwritable for root")
        for path in self.paths:
            subprocess.run(["chattr", "+i", str(path)], check=True)
        return self

    def __exit__(self, *exc: object) -> None:
        for path in self.paths:
            if os.geteuid() != 0:
                path.chmod(0o755 if path.is_dir() else 0o644)
            else:
                subprocess.run(["chattr", "-i", str(path)], check=False)


def children(pid: int) -> list[int]:
    """Live processes whose parent is `pid` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie (dead, waiting to be reaped by init) does not count."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def assert_no_orphans_after_kill(process: subprocess.Popen, workers: list[int]) -> None:
    """SIGKILL `process` once its workers are at work, then require every worker to die within 5 s."""
    time.sleep(0.2)  # let them get to work
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
