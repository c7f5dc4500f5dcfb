"""The home and its store: created once, never silently re-seeded, damage and read-only said in one line.

Before the fix: a deleted or emptied store was re-seeded with the 13 bundled papers (and a
5,196-paper index rebuilt down to 13) without a word; a corrupt page gave a DatabaseError
traceback; a read-only store passed `check` and failed `ingest` with a traceback.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.engine import Engine
from corpus.home import MARKER_FILE, STORE_FILE
from corpus.store import StoreError
from tests.faults.store_helpers import (
    Immutable,
    cli,
    copy_home,
    make_home,
    no_traceback,
    one_line,
    start,
    write_papers,
)


@pytest.fixture(scope="module")
def base_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("store-home") / "home")


@pytest.fixture
def home(base_home: Path, tmp_path: Path) -> Path:
    return copy_home(base_home, tmp_path)


def serve_error(home: Path) -> str | None:
    """The StoreError `paperbot serve` would stop with (it runs `Engine.open` before talking to Discord), or None."""
    try:
        Engine.open(home, semantic=False, refresh_seconds=None).close()
    except StoreError as exc:
        return str(exc)
    return None


def assert_refused_everywhere(home: Path, words: tuple[str, ...]) -> None:
    """search fails with one line, check fails, serve fails: all three agree."""
    result = cli(home, "search", "perceiver")
    assert result.returncode == 1
    no_traceback(result)
    line = one_line(result.stderr)
    assert all(word in line for word in words), line
    check = cli(home, "check", "--no-token")
    assert check.returncode == 1 and "problem: store" in check.stdout, check.stdout
    assert serve_error(home) is not None


def test_a_brand_new_home_is_created_once_and_says_so(tmp_path: Path):
    home = tmp_path / "new"
    first = cli(home, "search", "perceiver")
    assert first.returncode == 0 and f"created a new home at {home}" in one_line(first.stderr)
    second = cli(home, "search", "perceiver")
    assert second.returncode == 0 and second.stderr == ""
    assert (home / MARKER_FILE).exists()


def test_two_first_commands_at_once_create_the_home_once(tmp_path: Path):
    home = tmp_path / "new"
    processes = [start(home, "corpus") for _ in range(2)]
    errors = [process.communicate(timeout=60)[1] for process in processes]
    assert [p.returncode for p in processes] == [0, 0], errors
    assert sum("created a new home" in err for err in errors) == 1, errors
    assert "13 papers" in cli(home, "corpus").stdout


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_a_used_home_whose_store_vanished_is_refused(home: Path, how: str):
    store = home / STORE_FILE
    for extra in home.glob(STORE_FILE + "-*"):
        extra.unlink()
    if how == "deleted":
        store.unlink()
    else:
        store.write_bytes(b"")
    assert_refused_everywhere(home, ("missing or empty", "backup"))
    assert not store.exists() or store.stat().st_size == 0  # not re-seeded behind the user's back


def test_a_replaced_empty_store_is_refused(home: Path):
    """A fresh, valid SQLite file in place of the store (never seeded here) is not the home's store either."""
    from corpus.store import Store

    (home / STORE_FILE).unlink()
    Store(home / STORE_FILE).close()
    assert_refused_everywhere(home, ("missing or empty",))


def test_a_corrupt_page_is_one_line(home: Path):
    store = home / STORE_FILE
    data = bytearray(store.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    for offset in range(page, len(data), page):  # every page but the header's
        data[offset : offset + page] = b"\xa5" * page
    store.write_bytes(bytes(data))
    assert_refused_everywhere(home, (str(store), "damaged", "backup"))


@pytest.mark.parametrize("part", ["store file", "-wal file"])
def test_a_read_only_store_fails_check_serve_and_ingest_in_one_line(home: Path, tmp_path: Path, part: str):
    write_papers(tmp_path / "new.jsonl", "ro-store", 2)
    keeper = sqlite3.connect(home / STORE_FILE)  # holds the -wal file open, so it exists while the test runs
    try:
        with keeper:
            keeper.execute("INSERT INTO meta (key, value) VALUES ('test', 'wal') ON CONFLICT(key) DO NOTHING")
        target = home / (STORE_FILE if part == "store file" else STORE_FILE + "-wal")
        with Immutable(target):
            check = cli(home, "check", "--no-token")
            assert check.returncode == 1 and "read-only" in check.stdout, check.stdout
            assert "read-only" in (serve_error(home) or "")
            ingest = cli(home, "ingest", str(tmp_path / "new.jsonl"))
            assert ingest.returncode == 1
            no_traceback(ingest)
            assert "read-only" in one_line(ingest.stderr)
            search = cli(home, "search", "perceiver")  # reading still works
            assert search.returncode == 0 and "2103.03206" in search.stdout, search.stderr
    finally:
        keeper.close()
    assert cli(home, "ingest", str(tmp_path / "new.jsonl")).returncode == 0
