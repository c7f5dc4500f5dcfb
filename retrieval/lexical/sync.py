"""The index kept in step with the store: open (load, catch up, save), follow, and rebuild on disk.

`open_index` is the only entry point the bot and CLI need: it loads the saved index,
applies whatever the store changed since (new papers, replaced versions) without a
rebuild, and saves the result, so the index is never stale.
"""

from __future__ import annotations

import logging
from pathlib import Path

from corpus.store import Store
from retrieval.lexical import index as lexical_index
from retrieval.lexical.analyzer import Analyzer
from retrieval.lexical.bm25 import BM25Params
from retrieval.lexical.build import build_saved
from retrieval.lexical.index import INDEX_DIR, SearchIndex, _stream_rows, index_config, save_quietly
from retrieval.lexical.saved import IndexUnusable, _saved_meta, current_version

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
        return f"{folder}: index at change {index.seq} with {len(index)} papers, the store at change {seq} with {count}"
    return None  # the store keeps changing under us; what we have is consistent up to index.seq


def open_index(
    home: Path, store: Store, analyzer: Analyzer | None = None, params: BM25Params | None = None, workers: int = 1
) -> SearchIndex:
    """Load the home's index and bring it up to the store's state, building it if needed.

    A damaged, foreign or mismatched index is rebuilt from the store with one warning; a
    save that fails leaves the index in memory with one warning. Neither fails the caller.
    """
    folder = Path(home) / INDEX_DIR
    problem = None
    try:
        index = SearchIndex.load_checked(folder, analyzer, params)
    except IndexUnusable as exc:
        index, problem = None, str(exc)
    if index is not None:
        problem = _out_of_step(index, store, folder)
        if problem is None:
            save_quietly(index, folder)
            return index
        index = None
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
    save_quietly(index, folder, replace=True)
    return index


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
    analyzer, params = analyzer or Analyzer(), params or BM25Params()
    version = current_version(folder)
    if version is None and not (folder / "meta.json").exists():
        big = True
    else:
        meta = _saved_meta(version) if version is not None else None
        usable = meta is not None and all(meta.get(k) == v for k, v in index_config(analyzer, params).items())
        seq, papers = (meta.get("seq"), meta.get("papers")) if meta else (None, None)
        if not usable or not isinstance(seq, int) or not isinstance(papers, int) or seq > store.sequence:
            return open_index(home, store, analyzer, params, workers)
        big = store.changed_since(seq) * 2 >= max(papers, lexical_index.CHUNK)
    # not `replace`: if another process saved a newer index meanwhile, that one stays
    if big and _rebuild_saved(folder, store, analyzer, params, workers, replace=False):
        return None
    return open_index(home, store, analyzer, params, workers)
