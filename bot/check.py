"""`paperbot check`: is this deployment healthy? One line per finding; never prints the token.

Used by the container's HEALTHCHECK and by operators after an upgrade or restore.
It loads what `serve` loads, through the same code (the home rules, the store, the index
arrays), so it fails exactly when `serve` would fail to start and passes, with a
warning, when `serve` would repair things itself (a missing, damaged or out-of-step
index is rebuilt or caught up from the store at start; a brand-new home is created).
It writes nothing: its one write is inside a transaction that is rolled back, so it
is safe to run beside a live bot. The store must pass SQLite's `quick_check`, as every write
path and `serve` require (it says how long that took); `--deep` runs `integrity_check` and
reads every record back instead (a byte flipped inside a record's text passes SQLite's checks).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

from bot.settings import Settings, load_settings
from corpus.home import STORE_FILE, used_home
from corpus.store import Store, StoreBusy, StoreError
from retrieval.lexical.index import INDEX_DIR, SearchIndex
from retrieval.lexical.saved import IndexUnusable

CHECK_TIMEOUT = 2.0  # seconds to wait for another writer's lock when proving the store writable


class CheckReport(BaseModel):
    ok: list[str]
    problems: list[str]
    warnings: list[str] = Field(default_factory=list)  # serve repairs these itself at start

    @property
    def healthy(self) -> bool:
        return not self.problems


def run_checks(
    home: Path, settings: Settings | None = None, need_token: bool = True, deep: bool = False
) -> CheckReport:
    ok: list[str] = []
    problems: list[str] = []
    warnings: list[str] = []
    try:
        settings = settings or load_settings()
        ok.append("settings valid")
    except ValueError as exc:
        problems.append(f"settings: {exc}")
    if settings is not None and need_token:
        try:
            settings.token()
            ok.append("token present and well-formed")
        except ValueError as exc:
            problems.append(f"token: {exc}")
    _check_models(ok, problems)
    _check_home(Path(home), ok, problems, warnings, deep)
    return CheckReport(ok=ok, problems=problems, warnings=warnings)


def _check_models(ok: list[str], problems: list[str]) -> None:
    """The shipped models, read and replayed as serve does before it starts (retrieval/answers/models.py)."""
    from retrieval.answers.models import ModelUnusable, check_models

    try:
        ok.append(f"models load and reproduce their check rows ({', '.join(check_models())})")
    except ModelUnusable as exc:
        problems.append(f"{exc}; serve refuses to start")


def _check_home(home: Path, ok: list[str], problems: list[str], warnings: list[str], deep: bool = False) -> None:
    store_path = home / STORE_FILE
    if home.exists() and not home.is_dir():
        problems.append(f"home {home}: is a file, not a folder; point --home (or PAPERBOT_HOME) at a folder")
        return
    if not home.exists():
        parent = next((p for p in home.parents if p.exists()), None)
        if parent is None or not os.access(parent, os.W_OK):
            problems.append(f"home {home}: does not exist and {parent} is not writable; create it or fix permissions")
        else:
            warnings.append(
                f"home {home}: does not exist yet; `paperbot serve` (or `paperbot corpus`) creates it"
                " with the bundled papers"
            )
        return
    if not os.access(home, os.W_OK):
        problems.append(f"home {home}: not writable by this user; fix its owner or permissions")
    if not store_path.exists() or store_path.stat().st_size == 0:
        if used_home(home):
            problems.append(
                f"store {store_path}: missing or empty although the home was in use; serve refuses to start:"
                " restore papers.sqlite3 from a backup, or use a new home"
            )
        else:
            warnings.append(f"store {store_path}: not created yet; `paperbot serve` creates it with the bundled papers")
        return
    try:
        store = Store(store_path, timeout=CHECK_TIMEOUT)
    except StoreError as exc:
        problems.append(f"store {exc}")
        return
    try:
        _check_store(store, ok, problems, warnings, deep)
        if not problems:
            _check_index(home, store, ok, warnings)
    finally:
        store.close()


def _check_store(store: Store, ok: list[str], problems: list[str], warnings: list[str], deep: bool) -> None:
    try:
        seconds = store.check(deep)
        what = "integrity_check, and every record reads back as stored" if deep else "quick_check"
        ok.append(f"store passes SQLite's {what} ({seconds:.1f} s)")
        seq, count = store.state()
        if store.get_meta("seeded") is None and used_home(store.path.parent):
            problems.append(
                f"store {store.path}: not the home's store (never seeded here); serve refuses to start:"
                " restore papers.sqlite3 from a backup, or use a new home"
            )
            return
        try:
            store.probe_writable()
            ok.append(f"store readable and writable ({count} papers, change {seq})")
        except StoreBusy:
            warnings.append(f"store {store.path}: another process is writing; writability not tested this time")
            ok.append(f"store readable ({count} papers, change {seq})")
    except StoreError as exc:
        problems.append(f"store {exc}")


def _check_index(home: Path, store: Store, ok: list[str], warnings: list[str]) -> None:
    """Load the index arrays as serve does and compare them with the store (count and change counter)."""
    folder = home / INDEX_DIR
    seq, count = store.state()
    if folder.exists() and not folder.is_dir():
        warnings.append(
            f"index {folder}: a file, not a folder; serve moves it aside and builds the index from the store"
            f" at start ({count} papers)"
        )
        return
    try:
        index = SearchIndex.load_checked(folder, mmap=True)
    except IndexUnusable as exc:
        warnings.append(f"index {exc}: serve rebuilds it from the store at start ({count} papers)")
        return
    if index is None:
        warnings.append(f"index {folder}: missing; serve builds it from the store at start ({count} papers)")
        return
    if index.seq > seq or (index.seq == seq and len(index) != count):
        warnings.append(
            f"index {folder}: does not match the store (index at change {index.seq} with {len(index)} papers,"
            f" store at change {seq} with {count}); serve rebuilds it at start"
        )
    elif index.seq < seq:
        warnings.append(
            f"index {folder}: behind the store (index at change {index.seq}, store at {seq});"
            " serve catches it up at start"
        )
    else:
        ok.append(f"index present and fresh ({len(index)} papers)")
