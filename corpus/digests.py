"""Digest subscriptions and the exactly-once ledger, in the same SQLite file as the papers.

Exactly once per channel per day: `claim` decides what a channel's digest for a day
holds and records that decision in one transaction (with the channel's new high-water
mark). Posting then goes part by part, each recorded in `digest_parts`:

- before a part is sent it is recorded as "sending" with the time of the attempt;
- as soon as Discord returns the message, its id is recorded and the part is "sent";
- a part Discord refuses for good (400, 403, 404) is recorded "failed" with the reason,
  and the digest moves on to the next part;
- a claimed entry is resumed whatever its date (a bot killed mid-digest and restarted
  the next day still posts the remaining parts); only a part left "sending" can have
  reached Discord unseen, so only that part is looked for in the channel, among the
  messages posted after its attempt (not the channel's latest 50).

The book keeps its own connection to the store's file with a short busy timeout, so a
command that finds the file locked by another process hears `DigestBusy` within about
two seconds instead of waiting SQLite's 30 s.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Iterator

from pydantic import BaseModel, Field

from corpus.store import Store, StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS digest_channels (
    channel_id INTEGER PRIMARY KEY,
    guild_id   INTEGER,
    post_time  TEXT NOT NULL,
    keywords   TEXT NOT NULL DEFAULT '',
    authors    TEXT NOT NULL DEFAULT '',
    enabled    INTEGER NOT NULL DEFAULT 1,
    last_row   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS digest_ledger (
    channel_id   INTEGER NOT NULL,
    day          TEXT NOT NULL,
    content      TEXT NOT NULL,
    parts_total  INTEGER NOT NULL,
    parts_posted INTEGER NOT NULL DEFAULT 0,
    status       TEXT NOT NULL,
    PRIMARY KEY (channel_id, day)
);
CREATE TABLE IF NOT EXISTS digest_parts (
    channel_id   INTEGER NOT NULL,
    day          TEXT NOT NULL,
    part         INTEGER NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    attempted_at REAL,
    message_id   INTEGER,
    error        TEXT,
    PRIMARY KEY (channel_id, day, part)
);
"""
# added after the first release: NULL on entries claimed by an older paperbot
LEDGER_COLUMNS = {"claimed_at": "REAL"}
BUSY_TIMEOUT = 2.0  # seconds a command waits for another process's write lock
OPEN_TIMEOUT = 30.0  # creating the tables at start-up may wait longer


class DigestBusy(StoreError):
    """Another process holds the store's write lock: try again in a moment."""


class Subscription(BaseModel):
    channel_id: int
    guild_id: int | None = None
    post_time: dt.time = dt.time(8, 0)
    keywords: list[str] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    enabled: bool = True
    last_row: int = 0


class LedgerEntry(BaseModel):
    channel_id: int
    day: dt.date
    content: str  # the digest as decided (JSON), so a resumed post sends exactly the same
    parts_total: int
    parts_posted: int  # parts handled so far, in order: sent, found in the channel, or given up
    status: str  # "claimed" until every part is handled, then "posted"
    claimed_at: float | None = None  # unix time; None for entries claimed before it was recorded

    @property
    def done(self) -> bool:
        return self.status == "posted"


class PartRecord(BaseModel):
    """One message of a digest: what happened when it was last sent."""

    channel_id: int
    day: dt.date
    part: int
    status: str  # "sending" (attempt started, outcome unknown), "sent", "failed"
    attempts: int
    attempted_at: float | None
    message_id: int | None
    error: str | None


class DigestBook:
    """Subscriptions and ledger, over a connection of its own to the store's file.

    Safe to call from several threads (one lock around the connection); every call
    gives up with `DigestBusy` after `busy_timeout` seconds of waiting for a lock.
    """

    def __init__(self, store: Store, busy_timeout: float = BUSY_TIMEOUT):
        self.store = store
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        try:
            self.db = sqlite3.connect(store.path, timeout=OPEN_TIMEOUT, check_same_thread=False, isolation_level=None)
            self.db.executescript(SCHEMA)
            have = {row[1] for row in self.db.execute("PRAGMA table_info(digest_ledger)")}
            for name, kind in LEDGER_COLUMNS.items():
                if name not in have:
                    self.db.execute(f"ALTER TABLE digest_ledger ADD COLUMN {name} {kind}")
            self.db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        except sqlite3.OperationalError as exc:
            raise _translate(exc, store) from None

    def close(self) -> None:
        with self._lock:
            self.db.close()

    # ---------------------------------------------------------------- connection use

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        if not self._lock.acquire(timeout=self.busy_timeout):
            raise DigestBusy(f"{self.store.path}: the digest tables are in use; try again in a moment")
        try:
            yield self.db
        except sqlite3.OperationalError as exc:
            raise _translate(exc, self.store) from None
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE) so the busy timeout applies up front."""
        with self._reading() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # ---------------------------------------------------------------- subscriptions

    def enable(self, channel_id: int, guild_id: int | None, post_time: dt.time) -> Subscription:
        """Turn the digest on; its first digest holds papers added from now on."""
        with self._writing() as db:
            (high,) = db.execute("SELECT COALESCE(MAX(rowid), 0) FROM papers").fetchone()
            db.execute(
                "INSERT INTO digest_channels (channel_id, guild_id, post_time, enabled, last_row) VALUES (?, ?, ?, 1, ?)"
                " ON CONFLICT(channel_id) DO UPDATE SET post_time = excluded.post_time, enabled = 1",
                (channel_id, guild_id, post_time.strftime("%H:%M"), high),
            )
        return self.get(channel_id)  # type: ignore[return-value]

    def disable(self, channel_id: int) -> bool:
        with self._writing() as db:
            return db.execute("UPDATE digest_channels SET enabled = 0 WHERE channel_id = ?", (channel_id,)).rowcount > 0

    def subscribe(self, channel_id: int, keywords: list[str], authors: list[str]) -> Subscription | None:
        with self._writing() as db:
            changed = db.execute(
                "UPDATE digest_channels SET keywords = ?, authors = ? WHERE channel_id = ?",
                (json.dumps(keywords), json.dumps(authors), channel_id),
            ).rowcount
        return self.get(channel_id) if changed else None

    def get(self, channel_id: int) -> Subscription | None:
        with self._reading() as db:
            row = db.execute(
                "SELECT channel_id, guild_id, post_time, keywords, authors, enabled, last_row FROM digest_channels"
                " WHERE channel_id = ?",
                (channel_id,),
            ).fetchone()
        return _subscription(row) if row else None

    def channels(self, guild_id: int | None = None, enabled_only: bool = True) -> list[Subscription]:
        sql = "SELECT channel_id, guild_id, post_time, keywords, authors, enabled, last_row FROM digest_channels"
        clauses, params = [], []
        if enabled_only:
            clauses.append("enabled = 1")
        if guild_id is not None:
            clauses.append("guild_id = ?")
            params.append(guild_id)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with self._reading() as db:
            rows = db.execute(sql + " ORDER BY channel_id", params).fetchall()
        return [_subscription(row) for row in rows]

    # ---------------------------------------------------------------- ledger

    def entry(self, channel_id: int, day: dt.date) -> LedgerEntry | None:
        with self._reading() as db:
            row = db.execute(
                f"SELECT {ENTRY_COLUMNS} FROM digest_ledger WHERE channel_id = ? AND day = ?",
                (channel_id, day.isoformat()),
            ).fetchone()
        return _entry(row) if row else None

    def unfinished(self) -> list[LedgerEntry]:
        """Claimed entries with parts still to post, whatever their day, oldest first."""
        with self._reading() as db:
            rows = db.execute(
                f"SELECT {ENTRY_COLUMNS} FROM digest_ledger WHERE status = 'claimed' ORDER BY day, channel_id"
            ).fetchall()
        return [_entry(row) for row in rows]

    def claim(self, channel_id: int, day: dt.date, choose) -> tuple[LedgerEntry, bool]:
        """The day's entry for a channel, deciding it now if there is none.

        `choose(subscription, new_papers)` returns (content JSON, number of message parts); it runs
        inside the transaction that records its result and moves the channel's high-water mark.
        Returns the entry and whether it was decided by this call.
        """
        with self._writing() as db:
            existing = db.execute(
                f"SELECT {ENTRY_COLUMNS} FROM digest_ledger WHERE channel_id = ? AND day = ?",
                (channel_id, day.isoformat()),
            ).fetchone()
            if existing is not None:
                return _entry(existing), False
            subscription = self.get(channel_id)
            if subscription is None:
                raise KeyError(channel_id)
            # the store's own connection reads what is committed: nobody else can commit while we hold the write lock
            new = self.store.added_after(subscription.last_row)
            content, parts = choose(subscription, [paper for _, paper in new])
            high = max((row for row, _ in new), default=subscription.last_row)
            db.execute(
                "INSERT INTO digest_ledger (channel_id, day, content, parts_total, parts_posted, status, claimed_at)"
                " VALUES (?, ?, ?, ?, 0, ?, ?)",
                (channel_id, day.isoformat(), content, parts, "claimed" if parts else "posted", time.time()),
            )
            db.execute("UPDATE digest_channels SET last_row = ? WHERE channel_id = ?", (high, channel_id))
        return self.entry(channel_id, day), True  # type: ignore[return-value]

    def mark_part(self, channel_id: int, day: dt.date, part: int) -> None:
        """Record that message part `part` (1-based) is handled: the entry resumes after it."""
        with self._writing() as db:
            _advance(db, channel_id, day, part)

    # ---------------------------------------------------------------- parts

    def part(self, channel_id: int, day: dt.date, part: int) -> PartRecord | None:
        with self._reading() as db:
            row = db.execute(
                f"SELECT {PART_COLUMNS} FROM digest_parts WHERE channel_id = ? AND day = ? AND part = ?",
                (channel_id, day.isoformat(), part),
            ).fetchone()
        return _part(row) if row else None

    def parts(self, channel_id: int, day: dt.date) -> list[PartRecord]:
        with self._reading() as db:
            rows = db.execute(
                f"SELECT {PART_COLUMNS} FROM digest_parts WHERE channel_id = ? AND day = ? ORDER BY part",
                (channel_id, day.isoformat()),
            ).fetchall()
        return [_part(row) for row in rows]

    def start_part(self, channel_id: int, day: dt.date, part: int, at: float | None = None) -> PartRecord:
        """Record an attempt to send `part`, before sending it: its outcome is unknown until `part_sent`."""
        with self._writing() as db:
            db.execute(
                "INSERT INTO digest_parts (channel_id, day, part, status, attempts, attempted_at)"
                " VALUES (?, ?, ?, 'sending', 1, ?)"
                " ON CONFLICT(channel_id, day, part) DO UPDATE SET status = 'sending',"
                " attempts = attempts + 1, attempted_at = excluded.attempted_at",
                (channel_id, day.isoformat(), part, at if at is not None else time.time()),
            )
        return self.part(channel_id, day, part)  # type: ignore[return-value]

    def part_sent(self, channel_id: int, day: dt.date, part: int, message_id: int) -> None:
        """Discord has the message: record its id and move the entry past it, in one transaction."""
        self._finish_part(channel_id, day, part, "sent", message_id, None)

    def part_failed(self, channel_id: int, day: dt.date, part: int, error: str) -> None:
        """Discord refused the part for good: record why and move on, so later parts still go out."""
        self._finish_part(channel_id, day, part, "failed", None, error[:500])

    def _finish_part(
        self, channel_id: int, day: dt.date, part: int, status: str, message_id: int | None, error: str | None
    ) -> None:
        with self._writing() as db:
            db.execute(
                "INSERT INTO digest_parts (channel_id, day, part, status, attempts, message_id, error)"
                " VALUES (?, ?, ?, ?, 0, ?, ?)"
                " ON CONFLICT(channel_id, day, part) DO UPDATE SET status = excluded.status,"
                " message_id = excluded.message_id, error = excluded.error",
                (channel_id, day.isoformat(), part, status, message_id, error),
            )
            _advance(db, channel_id, day, part)


ENTRY_COLUMNS = "channel_id, day, content, parts_total, parts_posted, status, claimed_at"
PART_COLUMNS = "channel_id, day, part, status, attempts, attempted_at, message_id, error"


def _advance(db: sqlite3.Connection, channel_id: int, day: dt.date, part: int) -> None:
    db.execute(
        "UPDATE digest_ledger SET parts_posted = MAX(parts_posted, ?),"
        " status = CASE WHEN MAX(parts_posted, ?) >= parts_total THEN 'posted' ELSE status END"
        " WHERE channel_id = ? AND day = ?",
        (part, part, channel_id, day.isoformat()),
    )


def _translate(exc: sqlite3.OperationalError, store: Store) -> StoreError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return DigestBusy(f"{store.path}: {text}; another process is writing, try again in a moment")
    return StoreError(f"{store.path}: {text}")


def _subscription(row) -> Subscription:
    channel_id, guild_id, post_time, keywords, authors, enabled, last_row = row
    return Subscription(
        channel_id=channel_id,
        guild_id=guild_id,
        post_time=dt.time.fromisoformat(post_time),
        keywords=json.loads(keywords) if keywords else [],
        authors=json.loads(authors) if authors else [],
        enabled=bool(enabled),
        last_row=last_row,
    )


def _entry(row) -> LedgerEntry:
    channel_id, day, content, total, posted, status, claimed_at = row
    return LedgerEntry(
        channel_id=channel_id,
        day=dt.date.fromisoformat(day),
        content=content,
        parts_total=total,
        parts_posted=posted,
        status=status,
        claimed_at=claimed_at,
    )


def _part(row) -> PartRecord:
    channel_id, day, part, status, attempts, attempted_at, message_id, error = row
    return PartRecord(
        channel_id=channel_id,
        day=dt.date.fromisoformat(day),
        part=part,
        status=status,
        attempts=attempts,
        attempted_at=attempted_at,
        message_id=message_id,
        error=error,
    )
