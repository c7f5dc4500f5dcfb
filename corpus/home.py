"""Where paperbot keeps its files, and opening the store there (seeded on first use)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from corpus.loaders import load_seed_dir
from corpus.models import Paper
from corpus.store import Store

BUNDLED_DIR = Path(__file__).parent / "bundled"
STORE_FILE = "papers.sqlite3"


def resolve_home(explicit: str | Path | None = None) -> Path:
    """`--home DIR`, else $PAPERBOT_HOME, else the per-user data directory."""
    chosen = explicit or os.environ.get("PAPERBOT_HOME") or platformdirs.user_data_dir("paperbot")
    return Path(chosen).expanduser()


def bundled_papers() -> list[Paper]:
    """The 13 seed abstracts that ship inside the package."""
    return load_seed_dir(BUNDLED_DIR)


def open_store(home: Path) -> Store:
    """Open the home's store; the first time, load the bundled corpus into it."""
    store = Store(home / STORE_FILE)
    if store.get_meta("seeded") is None:
        store.ingest(bundled_papers())
        store.set_meta("seeded", "bundled")
    return store
