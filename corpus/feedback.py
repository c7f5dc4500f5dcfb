"""Votes on answers (👍 / 👎), kept in the store's SQLite file so they become an evaluation set.

Each vote keeps what was judged — the question, the answer's sentences and citations — and
the versions of what produced it (index state, models), so `paperbot eval feedback` can tell
whether today's build still gives the answers people liked and changed the ones they did not.
One vote per person per answer: a second press is refused, never counted twice.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Literal

from pydantic import BaseModel

from corpus.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    answer_id  TEXT NOT NULL,
    voter      TEXT NOT NULL,
    vote       INTEGER NOT NULL,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    versions   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (answer_id, voter)
);
"""


class Vote(BaseModel):
    """One person's judgement of one answer, as exported for evaluation."""

    answer_id: str
    vote: Literal[1, -1]
    question: str
    answer: dict  # the Answer as it was shown (found, sentences, citations)
    versions: dict[str, str]
    created_at: str


class FeedbackSet(BaseModel):
    votes: list[Vote]


class Feedback:
    """The votes table beside the papers; every write is one short transaction."""

    def __init__(self, store: Store):
        self._db = store.connection
        with self._db:
            self._db.executescript(SCHEMA)

    def record(
        self, answer_id: str, voter: str, vote: Literal[1, -1], question: str, answer: dict, versions: dict[str, str]
    ) -> bool:
        """Store a vote; False when this voter already voted on this answer (the first vote stands)."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        try:
            with self._db:
                self._db.execute(
                    "INSERT INTO feedback (answer_id, voter, vote, question, answer, versions, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (answer_id, voter, vote, question, json.dumps(answer), json.dumps(versions), now),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def export(self) -> FeedbackSet:
        """Every vote, oldest first; voters are left out (an evaluation set needs the judgement, not the person)."""
        rows = self._db.execute(
            "SELECT answer_id, vote, question, answer, versions, created_at FROM feedback ORDER BY created_at, rowid"
        )
        return FeedbackSet(
            votes=[
                Vote(
                    answer_id=answer_id,
                    vote=vote,
                    question=question,
                    answer=json.loads(answer),
                    versions=json.loads(versions),
                    created_at=created,
                )
                for answer_id, vote, question, answer, versions, created in rows
            ]
        )

    def counts(self) -> tuple[int, int]:
        """(👍, 👎) so far."""
        up, down = self._db.execute(
            "SELECT COALESCE(SUM(vote = 1), 0), COALESCE(SUM(vote = -1), 0) FROM feedback"
        ).fetchone()
        return up, down
