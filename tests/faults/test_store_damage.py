"""A damaged store is always told, and never written into (issue #25, case 3).

Before the fix: 64 bytes flipped inside a stored record passed SQLite's checks, so `check` said
"store readable and writable" while `paperbot paper ID` failed with "cannot use the paper store";
64 bytes flipped in a page's header made `check` fail, yet `ingest` wrote into the damaged file
with exit 0 and no warning, and `serve` started on it.

Real SQLite files, damaged where the issue's two flips landed: inside a `papers` leaf page's
record text (a quarter of the way into the issue's file) and over a `papers` page's header
(halfway). The pages are found with SQLite's `dbstat` table, so each flip lands where it must.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests.faults.store_helpers import cli, copy_home, make_home, no_traceback, one_line, store_ids, write_papers
from tests.faults.test_check_agrees_with_serve import serve

STORE = "papers.sqlite3"


@pytest.fixture(scope="module")
def base_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("store-damage")
    home = make_home(folder / "home")
    write_papers(folder / "many.jsonl", "damage", 400)  # enough papers for a few dozen leaf pages
    result = cli(home, "ingest", str(folder / "many.jsonl"))
    assert result.returncode == 0, result.stderr
    return home


@pytest.fixture
def home(base_home: Path, tmp_path: Path) -> Path:
    return copy_home(base_home, tmp_path)


def papers_pages(path: Path) -> tuple[int, list[int]]:
    """(page size, the numbers of the `papers` table's leaf pages, in file order)."""
    db = sqlite3.connect(path)
    try:
        size = db.execute("PRAGMA page_size").fetchone()[0]
        try:
            pages = [n for (n,) in db.execute("SELECT pageno FROM dbstat WHERE name = 'papers' AND pagetype = 'leaf'")]
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table to find the pages with")
    finally:
        db.close()
    return size, sorted(pages)


def flip(path: Path, offset: int, count: int = 64) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        data = handle.read(count)
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in data))


def damage_a_record(home: Path) -> None:
    """64 bytes inside the record text at the end of a leaf page (SQLite fills pages from the end)."""
    size, pages = papers_pages(home / STORE)
    page = pages[len(pages) // 4]
    flip(home / STORE, page * size - 200)


def damage_a_page_header(home: Path) -> None:
    """64 bytes over a leaf page's header (its type, cell count and cell offsets): the b-tree is broken."""
    size, pages = papers_pages(home / STORE)
    page = pages[len(pages) // 2]
    flip(home / STORE, (page - 1) * size)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_flipped_record_is_told_by_the_read_that_meets_it_and_by_check_deep(home: Path):
    damage_a_record(home)
    # SQLite's quick_check cannot see it (the b-tree is sound): check passes, as serve starts
    check = cli(home, "check", "--no-token")
    assert check.returncode == 0, check.stdout
    assert "ok: store passes SQLite's quick_check (" in check.stdout and " s)" in check.stdout, check.stdout
    deep = cli(home, "check", "--no-token", "--deep")
    assert deep.returncode == 1, deep.stdout
    problem = next(line for line in deep.stdout.splitlines() if line.startswith("problem: store"))
    assert "do not read back as stored: fault-damage-" in problem and "restore papers.sqlite3" in problem
    damaged_id = problem.split("as stored: ")[1].split(")")[0].split(",")[0].split(" ")[0]
    shown = cli(home, "paper", damaged_id)
    assert shown.returncode == 1
    no_traceback(shown)
    line = one_line(shown.stderr)
    assert "the paper store is damaged" in line and "restore papers.sqlite3 from a backup" in line, line
    assert "paperbot check --deep" in line
    code, log = asyncio.run(serve(home))
    assert code is None, log  # serve starts, as check said


def test_a_broken_page_fails_check_and_serve_and_nothing_writes_into_it(home: Path, tmp_path: Path):
    damage_a_page_header(home)
    check = cli(home, "check", "--no-token")
    assert check.returncode == 1, check.stdout
    problem = next(line for line in check.stdout.splitlines() if line.startswith("problem: store"))
    assert "quick_check" in problem and "restore papers.sqlite3 from a backup" in problem, problem

    before = digest(home / STORE)
    write_papers(tmp_path / "new.jsonl", "into-damage", 3)
    for args in (("ingest", str(tmp_path / "new.jsonl")), ("harvest", "--url", "http://127.0.0.1:9/oai")):
        result = cli(home, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        no_traceback(result)
        line = one_line(result.stderr)
        assert "the paper store is damaged" in line and "paperbot check --deep" in line, line
    assert digest(home / STORE) == before  # not a byte written
    assert not (home / f"{STORE}-wal").exists() or (home / f"{STORE}-wal").stat().st_size == 0

    code, log = asyncio.run(serve(home))
    assert code not in (None, 0), log  # serve refuses, as check said
    errors = [line for line in log.splitlines() if line.startswith("paperbot:")]
    assert "Traceback" not in log and len(errors) == 1 and "the paper store is damaged" in errors[0], log


def test_a_sound_store_passes_both_checks(home: Path):
    for args in (("check", "--no-token"), ("check", "--no-token", "--deep")):
        result = cli(home, *args)
        assert result.returncode == 0, result.stdout
    deep = cli(home, "check", "--no-token", "--deep").stdout
    assert "integrity_check, and every record reads back as stored" in deep
    assert len(store_ids(home)) == 413
