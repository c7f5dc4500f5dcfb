"""A file where the index folder belongs is repaired, and no message promises what will not happen (issue #25, case 6).

Before the fix, with `HOME/index` replaced by a file, every command rebuilt the index in memory and said
"the next command saves it again", which never happened: the next command said the same. Now the file is
moved aside (nothing in it is needed: the index is made from the store) and the index saved; where it cannot
be moved, the line says what to do instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from retrieval.lexical.index import INDEX_DIR, SearchIndex
from tests.faults.store_helpers import Immutable, cli, copy_home, make_home, no_traceback, one_line

PROMISE = "the next command saves it again"


@pytest.fixture(scope="module")
def base_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("index-file") / "home")


@pytest.fixture
def home(base_home: Path, tmp_path: Path) -> Path:
    home = copy_home(base_home, tmp_path)
    shutil.rmtree(home / INDEX_DIR)
    (home / INDEX_DIR).write_text("not an index\n")
    return home


def test_the_file_is_moved_aside_once_and_the_index_saved(home: Path):
    check = cli(home, "check", "--no-token")
    assert check.returncode == 0, check.stdout  # serve starts: it repairs this itself
    assert "warning: index" in check.stdout and "a file, not a folder" in check.stdout, check.stdout

    first = cli(home, "search", "perceiver", "--k", "1")
    assert first.returncode == 0, first.stderr
    no_traceback(first)
    line = one_line(first.stderr)
    assert "was a file, not a folder: moved it to index.not-a-folder-" in line and PROMISE not in line, line
    assert "2103.03206" in first.stdout or "2107.14795" in first.stdout
    [aside] = [p for p in home.iterdir() if p.name.startswith("index.not-a-folder-")]
    assert aside.read_text() == "not an index\n"  # moved, not deleted

    again = cli(home, "search", "perceiver", "--k", "1")
    assert again.returncode == 0 and again.stderr == "", again.stderr  # repaired: nothing more to say
    saved = SearchIndex.load(home / INDEX_DIR)
    assert saved is not None and len(saved) == 13
    assert "ok: index present and fresh (13 papers)" in cli(home, "check", "--no-token").stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can make a file that cannot be renamed (chattr +i)")
def test_a_file_that_cannot_be_moved_is_named_with_what_to_do(home: Path):
    with Immutable(home / INDEX_DIR):
        for _ in range(2):
            result = cli(home, "search", "perceiver", "--k", "1")
            assert result.returncode == 0, result.stderr
            no_traceback(result)
            line = one_line(result.stderr)
            assert "not saved" in line and f"Remove the file {home / INDEX_DIR}" in line, line
            assert "every command builds or catches it up from the store again" in line and PROMISE not in line, line
    fixed = cli(home, "search", "perceiver", "--k", "1")  # removable again: repaired by the next command
    assert fixed.returncode == 0 and "moved it to" in one_line(fixed.stderr)
