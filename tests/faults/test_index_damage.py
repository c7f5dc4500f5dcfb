"""A damaged, foreign or unsavable index never stops paperbot: rebuilt or kept in memory, with one warning.

Before the fix: a 0-byte `.npy` gave a traceback from every command and from `serve` while
`check` said "fresh"; a read-only index folder, a full disk or a leftover `index.old` made
every later command fail although no paper was lost.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bot.engine import Engine
from retrieval.lexical.index import INDEX_DIR, SearchIndex
from retrieval.lexical.saved import POINTER, current_version
from tests.faults.store_helpers import (
    Immutable,
    cli,
    copy_home,
    make_home,
    no_traceback,
    one_line,
    write_papers,
)


@pytest.fixture(scope="module")
def base_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("index-damage") / "home")


@pytest.fixture
def home(base_home: Path, tmp_path: Path) -> Path:
    return copy_home(base_home, tmp_path)


def version(home: Path) -> Path:
    found = current_version(home / INDEX_DIR)
    assert found is not None and found.is_dir()
    return found


def zero_bytes(name: str):
    return lambda home: (version(home) / name).write_bytes(b"")


def truncate(name: str):
    def damage(home: Path) -> None:
        path = version(home) / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    return damage


def other_dtype(home: Path) -> None:  # an array as another index version might have written it
    path = version(home) / "docs.npy"
    np.save(path, np.load(path).astype(np.int64))


def other_format(home: Path) -> None:
    path = version(home) / "meta.json"
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, "format": 1}))


def missing(name: str):
    return lambda home: (version(home) / name).unlink()


def garbage_meta(home: Path) -> None:
    (version(home) / "meta.json").write_text("{not json at all")


def dangling_pointer(home: Path) -> None:
    shutil.rmtree(version(home))


def old_layout(home: Path) -> None:
    """The single-folder layout earlier paperbots wrote (an upgrade)."""
    current = version(home)
    folder = home / INDEX_DIR
    for item in current.iterdir():
        shutil.copy(item, folder / item.name)
    shutil.rmtree(current)
    (folder / POINTER).unlink()
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "format": 2}))


DAMAGE = {
    "0-byte docs.npy": zero_bytes("docs.npy"),
    "truncated tfs.npy": truncate("tfs.npy"),
    "docs.npy of another dtype": other_dtype,
    "another format version": other_format,
    "missing terms.txt": missing("terms.txt"),
    "garbage meta.json": garbage_meta,
    "pointer to a deleted version": dangling_pointer,
    "the old single-folder layout": old_layout,
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_a_damaged_index_is_rebuilt_with_one_warning(home: Path, damage: str):
    DAMAGE[damage](home)

    check = cli(home, "check", "--no-token")
    assert check.returncode == 0, check.stdout  # serve would rebuild it: healthy, but not "fresh"
    assert "fresh" not in check.stdout and "warning: index" in check.stdout and "rebuild" in check.stdout, check.stdout

    result = cli(home, "search", "perceiver", "--k", "1")
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    assert "rebuilding it from the store" in one_line(result.stderr)
    assert "2103.03206" in result.stdout or "2107.14795" in result.stdout

    rebuilt = SearchIndex.load_checked(home / INDEX_DIR)  # the rebuilt index replaced the damaged one on disk
    assert rebuilt is not None and len(rebuilt) == 13 and rebuilt.seq == 13


@pytest.mark.parametrize("damage", ["0-byte docs.npy", "garbage meta.json"])
def test_serve_loads_what_check_passes(home: Path, damage: str, caplog: pytest.LogCaptureFixture):
    DAMAGE[damage](home)
    assert cli(home, "check", "--no-token").returncode == 0
    engine = Engine.open(
        home, semantic=False, refresh_seconds=None
    )  # what `paperbot serve` runs before it talks to Discord
    try:
        assert len(engine.index) == 13 and engine.index.search("perceiver", 1)
    finally:
        engine.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "rebuilding" in warnings[0]


def test_a_read_only_index_folder_does_not_fail_commands(home: Path, tmp_path: Path):
    words = write_papers(tmp_path / "new.jsonl", "readonly", 3)
    with Immutable(home / INDEX_DIR, version(home)):
        result = cli(home, "ingest", str(tmp_path / "new.jsonl"))
        assert result.returncode == 0, result.stderr
        no_traceback(result)
        assert "not saved" in one_line(result.stderr)  # one warning; the papers are stored
        found = cli(home, "search", words[1], "--k", "1")
        assert found.returncode == 0 and "fault-readonly-0001" in found.stdout, found.stdout + found.stderr
        assert "not saved" in one_line(found.stderr)
        check = cli(home, "check", "--no-token")
        assert check.returncode == 0 and "behind the store" in check.stdout, check.stdout
    again = cli(home, "search", words[2], "--k", "1")  # writable again: saved, no warning
    assert again.returncode == 0 and again.stderr == "" and "fault-readonly-0002" in again.stdout
    assert "ok: index present and fresh (16 papers)" in cli(home, "check", "--no-token").stdout


def test_leftovers_of_earlier_saves_are_ignored_and_removed(home: Path, tmp_path: Path):
    for leftover in ("index.old", "index.new"):  # the fixed swap folders of earlier versions
        (home / leftover).mkdir()
        (home / leftover / "indptr.npy").write_bytes(b"half")
    killed_writer = home / INDEX_DIR / ".tmp-killed"  # a writer killed mid-save
    killed_writer.mkdir()
    (killed_writer / "docs.npy").write_bytes(b"")
    write_papers(tmp_path / "new.jsonl", "leftover", 2)
    result = cli(home, "ingest", str(tmp_path / "new.jsonl"))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert not (home / "index.old").exists() and not (home / "index.new").exists() and not killed_writer.exists()
    kept = sorted(p.name for p in (home / INDEX_DIR).iterdir())
    assert POINTER in kept and version(home).name in kept and len(kept) <= 3  # the pointer, new and previous version
    assert "ok: index present and fresh (15 papers)" in cli(home, "check", "--no-token").stdout


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 3 MB tmpfs (needs root and mount permission; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_keeps_search_working(home: Path, small_disk: Path, tmp_path: Path):
    from corpus.store import Store

    disk_home = small_disk / "home"
    shutil.copytree(home, disk_home)
    write_papers(tmp_path / "new.jsonl", "fulldisk", 2)
    from corpus.loaders import load_path

    # stored, but the saved index has not seen it yet; kept open so SQLite's -wal/-shm files stay allocated
    # (with no byte free, SQLite cannot create them to open the store at all)
    with Store(disk_home / "papers.sqlite3") as store:
        store.ingest(load_path(str(tmp_path / "new.jsonl")))
        filler = small_disk / "filler"
        with filler.open("wb", buffering=0) as out:  # fill the disk to the last byte
            for size in (65536, 512, 1):
                try:
                    while True:
                        out.write(b"\0" * size)
                except OSError:
                    pass
        result = cli(disk_home, "search", "probe of concurrent ingest", "--k", "5")
        assert result.returncode == 0, result.stderr
        no_traceback(result)
        assert "fault-fulldisk-0000" in result.stdout and "not saved" in one_line(result.stderr)
        write_papers(tmp_path / "more.jsonl", "fulldisk2", 50)
        ingest = cli(disk_home, "ingest", str(tmp_path / "more.jsonl"))
        no_traceback(ingest)
        if ingest.returncode != 0:  # SQLite could not grow its files: one line, nothing half-stored
            assert "disk" in one_line(ingest.stderr)
        filler.unlink()
    assert (
        "ok: index present and fresh" in cli(disk_home, "corpus").stdout + cli(disk_home, "check", "--no-token").stdout
    )
