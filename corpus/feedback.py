"""The answers the bot gave, and votes on them (👍 / 👎), in the store's SQLite file.

An answer is kept by the id of the message that carried it, with the question, the
sentences and citations shown, and the versions of what produced it (index state,
models). That serves two things: a follow-up that replies to an answer (or is asked in
the thread opened from it) finds its conversation, and a vote becomes an evaluation
example — `paperbot feedback export --json` writes the votes with what was judged, and
`paperbot eval feedback` asks today's build the same questions. One vote per person per
answer: a second press is refused, never counted twice.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Literal

from pydantic import BaseModel

from corpus.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    message_id TEXT PRIMARY KEY,
    thread_id  TEXT,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    versions   TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_thread ON answers(thread_id);
CREATE TABLE IF NOT EXISTS votes (
    message_id TEXT NOT NULL,
    voter      TEXT NOT NULL,
    vote       INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (message_id, voter)
);
"""


class StoredAnswer(BaseModel):
    message_id: str
    thread_id: str | None
    question: str
    answer: dict  # the Answer as shown: found, sentences, citations, closest
    versions: dict[str, str]
    created_at: str

    @property
    def cited(self) -> list[str]:
        """Paper ids the answer cited, else those it offered as closest."""
        papers = self.answer.get("citations") or self.answer.get("closest") or []
        return [c["paper_id"] for c in papers]


class Vote(BaseModel):
    """One person's judgement of one answer, as exported for evaluation (who voted is left out)."""

    answer_id: str
    vote: Literal[1, -1]
    question: str
    answer: dict
    versions: dict[str, str]
    created_at: str


class FeedbackSet(BaseModel):
    votes: list[Vote]


class Feedback:
    """Answers and votes beside the papers; every write is one short transaction."""

    def __init__(self, store: Store):
        self._db = store.connection
        with self._db:
            self._db.executescript(SCHEMA)

    def remember(
        self, message_id: str, question: str, answer: dict, versions: dict[str, str], thread_id: str | None = None
    ) -> None:
        """Keep an answer the bot sent (again for the same message: the first stays)."""
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO answers (message_id, thread_id, question, answer, versions, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (message_id, thread_id, question, json.dumps(answer), json.dumps(versions), _now()),
            )

    def answer(self, message_id: str) -> StoredAnswer | None:
        row = self._db.execute(
            "SELECT message_id, thread_id, question, answer, versions, created_at FROM answers WHERE message_id = ?",
            (message_id,),
        ).fetchone()
        return _stored(row) if row else None

    def thread(self, thread_id: str) -> list[StoredAnswer]:
        """The answers given in a thread, oldest first (the conversation so far)."""
        rows = self._db.execute(
            "SELECT message_id, thread_id, question, answer, versions, created_at FROM answers"
            " WHERE thread_id = ? ORDER BY created_at, rowid",
            (thread_id,),
        )
        return [_stored(row) for row in rows]

    def vote(self, message_id: str, voter: str, vote: Literal[1, -1]) -> bool:
        """Record a vote on a kept answer; False when this voter already voted on it or the answer is unknown."""
        if self.answer(message_id) is None:
            return False
        try:
            with self._db:
                self._db.execute(
                    "INSERT INTO votes (message_id, voter, vote, created_at) VALUES (?, ?, ?, ?)",
                    (message_id, voter, vote, _now()),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def export(self) -> FeedbackSet:
        """Every vote with the answer it judged, oldest first."""
        rows = self._db.execute(
            "SELECT v.message_id, v.vote, a.question, a.answer, a.versions, v.created_at"
            " FROM votes v JOIN answers a ON a.message_id = v.message_id ORDER BY v.created_at, v.rowid"
        )
        return FeedbackSet(
            votes=[
                Vote(
                    answer_id=message_id,
                    vote=vote,
                    question=question,
                    answer=json.loads(answer),
                    versions=json.loads(versions),
                    created_at=created,
                )
                for message_id, vote, question, answer, versions, created in rows
            ]
        )

    def counts(self) -> tuple[int, int]:
        """(👍, 👎) so far."""
        up, down = self._db.execute(
            "SELECT COALESCE(SUM(vote = 1), 0), COALESCE(SUM(vote = -1), 0) FROM votes"
        ).fetchone()
        return up, down


def _stored(row: tuple) -> StoredAnswer:
    message_id, thread_id, question, answer, versions, created = row
    return StoredAnswer(
        message_id=message_id,
        thread_id=thread_id,
        question=question,
        answer=json.loads(answer),
        versions=json.loads(versions),
        created_at=created,
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
