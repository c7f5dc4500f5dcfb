"""Digest subscriptions and the exactly-once ledger, in the same SQLite file as the papers.

Exactly once per channel per day: `claim` decides what a channel's digest for a day
holds and records that decision in one transaction (with the channel's new high-water
mark). Posting then marks each message part as sent. After a crash, a claimed entry
is resumed from the first part not marked sent, and the poster first checks the
channel for that part (the message may have reached Discord just before the crash).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

from pydantic import BaseModel, Field

from corpus.store import Store

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
"""


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
    parts_posted: int
    status: str  # "claimed" until every part is posted, then "posted"

    @property
    def done(self) -> bool:
        return self.status == "posted"


class DigestBook:
    """Subscriptions and ledger over a Store's connection."""

    def __init__(self, store: Store):
        self.store = store
        self.db: sqlite3.Connection = store.connection
        self.db.executescript(SCHEMA)

    # ---------------------------------------------------------------- subscriptions

    def enable(self, channel_id: int, guild_id: int | None, post_time: dt.time) -> Subscription:
        """Turn the digest on; its first digest holds papers added from now on."""
        with self.db:
            self.db.execute(
                "INSERT INTO digest_channels (channel_id, guild_id, post_time, enabled, last_row) VALUES (?, ?, ?, 1, ?)"
                " ON CONFLICT(channel_id) DO UPDATE SET post_time = excluded.post_time, enabled = 1",
                (channel_id, guild_id, post_time.strftime("%H:%M"), self.store.max_row()),
            )
        return self.get(channel_id)  # type: ignore[return-value]

    def disable(self, channel_id: int) -> bool:
        with self.db:
            return (
                self.db.execute("UPDATE digest_channels SET enabled = 0 WHERE channel_id = ?", (channel_id,)).rowcount
                > 0
            )

    def subscribe(self, channel_id: int, keywords: list[str], authors: list[str]) -> Subscription | None:
        with self.db:
            changed = self.db.execute(
                "UPDATE digest_channels SET keywords = ?, authors = ? WHERE channel_id = ?",
                (json.dumps(keywords), json.dumps(authors), channel_id),
            ).rowcount
        return self.get(channel_id) if changed else None

    def get(self, channel_id: int) -> Subscription | None:
        row = self.db.execute(
            "SELECT channel_id, guild_id, post_time, keywords, authors, enabled, last_row FROM digest_channels WHERE channel_id = ?",
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
        return [_subscription(row) for row in self.db.execute(sql + " ORDER BY channel_id", params)]

    # ---------------------------------------------------------------- ledger

    def entry(self, channel_id: int, day: dt.date) -> LedgerEntry | None:
        row = self.db.execute(
            "SELECT channel_id, day, content, parts_total, parts_posted, status FROM digest_ledger WHERE channel_id = ? AND day = ?",
            (channel_id, day.isoformat()),
        ).fetchone()
        return _entry(row) if row else None

    def claim(self, channel_id: int, day: dt.date, choose) -> tuple[LedgerEntry, bool]:
        """The day's entry for a channel, deciding it now if there is none.

        `choose(subscription, new_papers)` returns (content JSON, number of message parts); it runs
        inside the transaction that records its result and moves the channel's high-water mark.
        Returns the entry and whether it was decided by this call.
        """
        self.db.execute("BEGIN IMMEDIATE")
        try:
            existing = self.entry(channel_id, day)
            if existing is not None:
                self.db.execute("COMMIT")
                return existing, False
            subscription = self.get(channel_id)
            if subscription is None:
                raise KeyError(channel_id)
            new = self.store.added_after(subscription.last_row)
            content, parts = choose(subscription, [paper for _, paper in new])
            high = max((row for row, _ in new), default=subscription.last_row)
            self.db.execute(
                "INSERT INTO digest_ledger (channel_id, day, content, parts_total, parts_posted, status) VALUES (?, ?, ?, ?, 0, ?)",
                (channel_id, day.isoformat(), content, parts, "claimed" if parts else "posted"),
            )
            self.db.execute("UPDATE digest_channels SET last_row = ? WHERE channel_id = ?", (high, channel_id))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return self.entry(channel_id, day), True  # type: ignore[return-value]

    def mark_part(self, channel_id: int, day: dt.date, part: int) -> None:
        """Record that message part `part` (1-based) is in the channel."""
        with self.db:
            self.db.execute(
                "UPDATE digest_ledger SET parts_posted = MAX(parts_posted, ?),"
                " status = CASE WHEN MAX(parts_posted, ?) >= parts_total THEN 'posted' ELSE status END"
                " WHERE channel_id = ? AND day = ?",
                (part, part, channel_id, day.isoformat()),
            )


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
    channel_id, day, content, total, posted, status = row
    return LedgerEntry(
        channel_id=channel_id,
        day=dt.date.fromisoformat(day),
        content=content,
        parts_total=total,
        parts_posted=posted,
        status=status,
    )
