"""The index kept in step with the store: open (load, catch up, save), follow, and rebuild on disk.

`open_index` is the only entry point the bot and CLI need. A reader that finds the saved version at the
store's change counter opens it and goes, without any lock. Only catching up and saving take the lock
(`saved.index_lock`): a reader that finds it held (another process saving after an ingest) does not wait
but answers from the version it loaded, saying so in one line; a writer (`sync_saved`, after a command
stored papers) waits for it. Whoever holds the lock catches the index up with the store and saves it.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import os
from pathlib import Path

from corpus.store import Store
from retrieval.lexical import index as lexical_index
from retrieval.lexical.analyzer import Analyzer
from retrieval.lexical.bm25 import BM25Params
from retrieval.lexical.build import build_saved
from retrieval.lexical.index import INDEX_DIR, SearchIndex, _stream_rows, index_config
from retrieval.lexical.saved import IndexUnusable, _saved_meta, _saved_seq, current_version, index_lock

log = logging.getLogger("paperbot.index")


def _out_of_step(index: SearchIndex, store: Store, folder: Path) -> str | None:
    """Catch the index up, then compare it with the store (change counter and paper count read together).

    None when they agree. An index ahead of the store, or with another number of papers at
    the same change, belongs to another store (restored, replaced): it must be rebuilt.
    """
    for _ in range(5):
        index.catch_up(store)
        seq, count = store.state()
        if seq > index.seq:  # another process wrote meanwhile: catch up again
            continue
        if seq == index.seq and count == len(index):
            return None
        return _mismatch(index, folder, seq, count)
    return None  # the store keeps changing under us; what we have is consistent up to index.seq


def _mismatch(index: SearchIndex, folder: Path, seq: int, count: int) -> str:
    return f"{folder}: index at change {index.seq} with {len(index)} papers, the store at change {seq} with {count}"


def open_index(
    home: Path,
    store: Store,
    analyzer: Analyzer | None = None,
    params: BM25Params | None = None,
    workers: int = 1,
    wait: bool = False,
) -> SearchIndex:
    """Load the home's index and bring it up to the store's state, building it if needed.

    A saved version at the store's change counter is used as it is, without the lock. One behind
    the store is caught up and saved under the lock; with `wait` False (a reader) and the lock held
    by another process, it is used as loaded, with one warning, rather than waiting.
    A damaged, foreign or mismatched index is rebuilt from the store with one warning; a
    save that fails leaves the index in memory with one warning. Neither fails the caller.
    """
    folder = Path(home) / INDEX_DIR
    _clear_the_way(folder)
    problem = None
    try:
        index = SearchIndex.load_checked(folder, analyzer, params)
    except IndexUnusable as exc:
        index, problem = None, str(exc)
    if index is not None:
        seq, count = store.state()
        if seq == index.seq and count == len(index):
            return index  # fresh: nothing to catch up, nothing to save, no lock
        if seq < index.seq:
            problem = _mismatch(index, folder, seq, count)
        else:
            index, problem = _catch_up_saved(index, store, folder, analyzer, params, wait)
            if index is not None:
                return index
    if problem:
        log.warning("index %s; rebuilding it from the store", problem)
    if _rebuild_saved(folder, store, analyzer, params, workers):
        index = SearchIndex.load(folder, analyzer, params)
        if index is not None:
            index.catch_up(store)  # a writer may have stored more meanwhile
            return index
    # the folder cannot be written (read-only, full disk): build in memory; save_quietly says why, once
    current = store.sequence
    seen = [current]
    index = SearchIndex.build(_stream_rows(store, 0, seen), analyzer, params, seq=current, workers=workers)
    index.seq = seen[0]
    save_quietly(index, folder, replace=True, wait=wait)
    return index


def _catch_up_saved(
    index: SearchIndex,
    store: Store,
    folder: Path,
    analyzer: Analyzer | None,
    params: BM25Params | None,
    wait: bool,
) -> tuple[SearchIndex | None, str | None]:
    """The loaded index (behind the store) caught up and saved under the lock: (index, None), or (None, why not).

    Without `wait`, a lock held by another process means (index as loaded, None), said once: that
    process is saving a newer version, which the next command opens.
    """
    try:
        with index_lock(folder, wait) as held:
            if not held:
                behind = store.changed_since(index.seq)
                log.warning(
                    "index %s: another paperbot process is saving it; answering from the saved version"
                    " (change %d, %d papers) without the %d papers changed since, rather than wait",
                    folder,
                    index.seq,
                    len(index),
                    behind,
                )
                return index, None
            version = current_version(folder)
            newer = _saved_seq(version) if version is not None else None
            if newer is not None and newer > index.seq:  # saved by another process while this one loaded
                index = SearchIndex.load(folder, analyzer, params) or index
            problem = _out_of_step(index, store, folder)
            if problem is None:
                save_quietly(index, folder)  # the lock is this thread's: publish does not wait for it
            return (None, problem) if problem else (index, None)
    except OSError as exc:  # the lock file cannot be made (a read-only home): catch up in memory
        problem = _out_of_step(index, store, folder)
        if problem is None:
            _warn_unsaved(folder, exc)
        return (None, problem) if problem else (index, None)


def _clear_the_way(folder: Path) -> None:
    """A file where the index folder belongs (a mistake, a bad restore) is moved aside, so the index can be saved.

    It holds nothing paperbot needs (the index is made from the store): renamed, not deleted, and said once.
    When it cannot be moved, saving fails later with a line that says to remove it.
    """
    if folder.is_dir() or not (folder.exists() or folder.is_symlink()):
        return
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = folder.with_name(f"{folder.name}.not-a-folder-{stamp}-{os.getpid()}")
    try:
        os.rename(folder, aside)
    except OSError:
        return
    log.warning(
        "index %s was a file, not a folder: moved it to %s (paperbot does not need it; delete it when you like)"
        " and rebuilding the index from the store",
        folder,
        aside.name,
    )


_save_warned: set[Path] = set()


def save_quietly(index: SearchIndex, folder: Path, replace: bool = False, wait: bool = False) -> bool:
    """Save, or carry on with the index in memory: False when not saved (one warning per folder says why).

    Nothing is lost when a save fails (the store has every paper), so it must not fail the command.
    Without `wait`, a lock held by another process means no save this time (that process is saving
    one; the next reader catches up the rest), without a warning: the bot's engine saves this way,
    under its own lock, and must not stall its threads. A caller holding the lock saves at once.
    """
    try:
        with index_lock(folder, wait) as held:
            if not held:
                log.info("index %s: not saved this time (another process is saving it)", folder)
                return False
            return index.save(folder, replace)
    except OSError as exc:
        _warn_unsaved(folder, exc)
        return False


def _warn_unsaved(folder: Path, exc: OSError) -> None:
    """One line per folder: why the index was not saved and what would let it be (never "next time" alone)."""
    key = Path(folder).resolve()
    if key in _save_warned:
        return
    _save_warned.add(key)
    if folder.exists() and not folder.is_dir():
        fix = f"remove the file {folder} (it holds no papers)"
    elif exc.errno == errno.ENOSPC:
        fix = "free some disk space"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = f"give this user write access to {folder.parent} and {folder}"
    else:
        fix = f"fix what stops it ({exc.strerror or exc})"
    reason = exc.strerror or str(exc)
    log.warning(
        "index %s: not saved (%s); answering from the index in memory. %s: until it can be saved,"
        " every command builds or catches it up from the store again",
        folder,
        reason,
        fix[0].upper() + fix[1:],
    )


def follow(index: SearchIndex, store: Store, folder: Path | None = None) -> tuple[SearchIndex, int]:
    """The index brought up to the store for a long-running reader (the bot): (index, papers it gained).

    A small change is added in memory (`catch_up`). After a big one — another process ingested at least half
    as many papers as this index holds — the version that process saved in `folder` is loaded instead and
    caught up with the rest: catching a million new papers up in memory held twice the final index. The
    loaded version must agree with the store (as `open_index` checks); if it does not, or there is none
    newer, the change is added in memory after all.
    """
    changed = store.changed_since(index.seq)
    if not changed:
        return index, index.catch_up(store)  # moves the change number on (deletions, rewrites)
    if folder is not None and changed * 2 >= max(len(index), lexical_index.CHUNK):
        saved = SearchIndex.load(folder, index.analyzer, index.params)
        if saved is not None and saved.seq > index.seq and _out_of_step(saved, store, folder) is None:
            return saved.warm(), changed
    return index, index.catch_up(store)


def _rebuild_saved(
    folder: Path,
    store: Store,
    analyzer: Analyzer | None,
    params: BM25Params | None,
    workers: int,
    replace: bool = True,
) -> bool:
    """Index every paper of the store straight to disk (`index_build`); False when the files cannot be written.

    `replace`: publish even over a saved version that claims to be as new (it was found damaged).
    """
    seen = [store.sequence]
    try:
        build_saved(_stream_rows(store, 0, seen), folder, lambda: seen[0], analyzer, params, workers, replace)
    except OSError as exc:
        log.debug("index %s: cannot build on disk (%s)", folder, exc)
        return False
    return True


def sync_saved(
    home: Path, store: Store, analyzer: Analyzer | None = None, params: BM25Params | None = None, workers: int = 1
) -> SearchIndex | None:
    """Bring the home's saved index up to the store's state, for a command that wrote papers; the index if loaded.

    A change that is small next to the saved index is applied to it in memory (`open_index`). When
    there is no saved index yet, or the store changed by at least half as many papers as the index
    holds (a first big ingest), the index is rebuilt straight to disk instead and never loaded:
    catching up a million new papers in memory held twice the final index (2.0 GB), the on-disk
    build holds a chunk and a block. A damaged or foreign index goes through `open_index`, which
    says so once and rebuilds.
    """
    folder = Path(home) / INDEX_DIR
    _clear_the_way(folder)
    analyzer, params = analyzer or Analyzer(), params or BM25Params()
    version = current_version(folder)
    if version is None and not (folder / "meta.json").exists():
        big = True
    else:
        meta = _saved_meta(version) if version is not None else None
        usable = meta is not None and all(meta.get(k) == v for k, v in index_config(analyzer, params).items())
        seq, papers = (meta.get("seq"), meta.get("papers")) if meta else (None, None)
        if not usable or not isinstance(seq, int) or not isinstance(papers, int) or seq > store.sequence:
            return open_index(home, store, analyzer, params, workers, wait=True)
        big = store.changed_since(seq) * 2 >= max(papers, lexical_index.CHUNK)
    # not `replace`: if another process saved a newer index meanwhile, that one stays
    if big and _rebuild_saved(folder, store, analyzer, params, workers, replace=False):
        return None
    return open_index(home, store, analyzer, params, workers, wait=True)
