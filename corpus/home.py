"""Where paperbot keeps its files, and opening the store there (seeded on first use).

A brand-new home is created and seeded with the bundled papers, and a marker file
records that it exists. An existing home whose store has vanished or been emptied is
refused: silently re-seeding it with 13 papers would shrink a large corpus (and its
index, rebuilt from the store) without a word.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import platformdirs

from corpus.loaders import load_seed_dir
from corpus.models import Paper
from corpus.store import Store, StoreError

BUNDLED_DIR = Path(__file__).parent / "bundled"
STORE_FILE = "papers.sqlite3"
MARKER_FILE = ".paperbot-home"  # written once the home is created and seeded
# Files that only a home in use has (the index folder is retrieval's INDEX_DIR; corpus cannot import it).
USED_HOME_SIGNS = (MARKER_FILE, "index", "command-sync.json")


def resolve_home(explicit: str | Path | None = None) -> Path:
    """`--home DIR`, else $PAPERBOT_HOME, else the per-user data directory."""
    chosen = explicit or os.environ.get("PAPERBOT_HOME") or platformdirs.user_data_dir("paperbot")
    return Path(chosen).expanduser()


def bundled_papers() -> list[Paper]:
    """The 13 seed abstracts that ship inside the package."""
    return load_seed_dir(BUNDLED_DIR)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock (flock) on `path`, created if needed; released when the block ends.

    flock locks die with their process, so a kill -9 never leaves one behind.
    Raises OSError when the lock file cannot be created or opened.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError:
        fd = os.open(path, os.O_RDONLY)  # flock needs no write access to an existing file
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def used_home(home: Path) -> bool:
    """Whether `home` holds files that only a home already in use has (the marker, an index, the sync record)."""
    return any((home / name).exists() for name in USED_HOME_SIGNS)


def open_store(home: Path, timeout: float = 30.0) -> Store:
    """Open the home's store; the first time, create it with the bundled corpus (said once on stderr).

    Raises StoreError when the home was in use but its store is missing or empty.
    """
    home = Path(home)
    path = home / STORE_FILE
    if home.exists() and not home.is_dir():
        raise StoreError(f"{home}: is a file, not a folder; point --home (or PAPERBOT_HOME) at a folder")
    if _vanished(home, path):
        raise _refusal(home, path)
    store = Store(path, timeout)
    if store.get_meta("seeded") is not None:
        _write_marker(home)
        return store
    try:
        with file_lock(home / ".create.lock"):  # two first commands at once: one seeds, one says so
            if store.get_meta("seeded") is None:
                if used_home(home):  # in use, yet this store was never seeded: not the store it had
                    raise _refusal(home, path)
                store.ingest(bundled_papers())
                store.set_meta("seeded", "bundled")
                _write_marker(home)
                print(
                    f"paperbot: created a new home at {home} with the bundled papers"
                    " (use --home DIR or PAPERBOT_HOME for another folder)",
                    file=sys.stderr,
                )
    except OSError as exc:
        store.close()
        raise StoreError(f"{home}: cannot create the paperbot home ({exc}); check the folder's permissions") from None
    except StoreError:
        store.close()
        raise
    return store


def _write_marker(home: Path) -> None:
    """Mark the home as created (once; a home made by an older version gets it on its next open)."""
    marker = home / MARKER_FILE
    if not marker.exists():
        with contextlib.suppress(OSError):
            marker.write_text("paperbot home: papers.sqlite3 holds the papers; deleting it loses them\n")


def _vanished(home: Path, path: Path) -> bool:
    """The home was used, but its store file is gone or holds no papers store (emptied / 0 bytes)."""
    if not used_home(home):
        return False
    return not path.exists() or path.stat().st_size == 0


def _refusal(home: Path, path: Path) -> StoreError:
    return StoreError(
        f"{path}: the paper store is missing or empty, but {home} was in use (its index or marker is there);"
        f" restore papers.sqlite3 from a backup, or start afresh in a new --home folder"
    )
