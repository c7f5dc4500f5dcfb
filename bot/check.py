"""`paperbot check`: is this deployment healthy? One line per problem; never prints the token.

Used by the container's HEALTHCHECK and by operators after an upgrade or restore.
It opens nothing for writing except a rolled-back transaction, so it is safe to run
beside a live bot.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from pydantic import BaseModel

from bot.settings import Settings, load_settings
from corpus.home import STORE_FILE
from retrieval.index import INDEX_DIR


class CheckReport(BaseModel):
    ok: list[str]
    problems: list[str]

    @property
    def healthy(self) -> bool:
        return not self.problems


def run_checks(home: Path, settings: Settings | None = None, need_token: bool = True) -> CheckReport:
    ok: list[str] = []
    problems: list[str] = []
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

    store_path = home / STORE_FILE
    sequence = None
    if not home.is_dir():
        problems.append(f"home {home}: does not exist; run `paperbot corpus --home {home}` once to create it")
    elif not os.access(home, os.W_OK):
        problems.append(f"home {home}: not writable by this user; fix its owner or permissions")
    if not store_path.exists():
        problems.append(f"store {store_path}: missing; run `paperbot corpus` to create it with the bundled papers")
    else:
        try:
            db = sqlite3.connect(f"file:{store_path}?mode=rw", uri=True, timeout=5)
            try:
                result = db.execute("PRAGMA quick_check").fetchone()[0]
                if result != "ok":
                    raise sqlite3.DatabaseError(result)
                count = db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
                row = db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
                sequence = int(row[0]) if row else 0
                db.execute("BEGIN IMMEDIATE")  # proves we can write, then writes nothing
                db.execute("ROLLBACK")
                ok.append(f"store readable and writable ({count} papers)")
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:
            problems.append(
                f"store {store_path}: {exc}; restore the home from a backup, or move the file aside to start afresh"
            )

    meta_path = home / INDEX_DIR / "meta.json"
    if not meta_path.exists():
        problems.append(f"index {meta_path.parent}: missing; it is built on the next start (or run `paperbot corpus`)")
    else:
        try:
            meta = json.loads(meta_path.read_text())
            if sequence is not None and meta.get("seq") != sequence:
                problems.append(
                    f"index: behind the store (index at change {meta.get('seq')}, store at {sequence});"
                    " it catches up on the next start"
                )
            else:
                ok.append(f"index present and fresh ({meta.get('papers')} papers)")
        except (OSError, ValueError) as exc:
            problems.append(
                f"index {meta_path}: unreadable ({exc}); delete the folder and it is rebuilt on the next start"
            )
    return CheckReport(ok=ok, problems=problems)
