"""The bot's view of the corpus: store + index behind one lock, called from worker threads.

Discord handlers await these through `asyncio.to_thread`, so BM25, sentence selection
and every SQLite call stay off the event loop (and with it the gateway heartbeat).

Other processes (`paperbot ingest`, a second shard) write to the same store, so the
engine follows the store's change counter: before each answer it reads the counter
(one indexed row, microseconds) and catches up if it moved, and a background thread
does the same every `REFRESH_SECONDS`. Writes wait at most `BUSY_TIMEOUT` seconds for
another process's lock, then raise `StoreBusy` (the cogs answer "busy, try again").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from pathlib import Path

from corpus.feedback import Feedback
from corpus.home import open_store
from corpus.models import InvalidId, Paper, normalise_id
from corpus.store import Store, StoreBusy, StoreError
from retrieval.answers.answer import Answer, answer_question, answer_versions
from retrieval.answers.conversation import ContextAnswer, Turn, answer_follow_up
from retrieval.answers.models import check_models
from retrieval.answers.search import SearchHit, SearchRequest, run_search
from retrieval.answers.sentences import AnswerOptions
from retrieval.answers.tldr import PaperOut, paper_with_tldr
from retrieval.lexical.index import INDEX_DIR, SearchIndex
from retrieval.lexical.related import related_papers
from retrieval.lexical.sync import follow, open_index, save_quietly

log = logging.getLogger("paperbot.engine")

BUSY_TIMEOUT = 2.0  # seconds a bot write waits for another process's lock (Discord wants a reply in 3 s)
REFRESH_SECONDS = 60.0  # the longest a paper ingested elsewhere stays unsearchable here


class Engine:
    """Thread-safe access to the corpus for the bot."""

    def __init__(self, store: Store, index: SearchIndex, home: Path | None = None):
        self.store = store
        self.index = index
        self.home = home
        self.lock = threading.RLock()
        self.load_seconds = 0.0
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None
        self.stage = None  # retrieval.semantic.SemanticStage when the model is installed and the setting allows
        self.builder = None  # retrieval.vectors.VectorBuilder encoding new papers in the background
        self._feedback: Feedback | None = None  # created on first use (it adds its tables to the store)

    @classmethod
    def open(cls, home: Path, semantic: bool | None = None, refresh_seconds: float | None = REFRESH_SECONDS) -> Engine:
        """Open the store (refusing a read-only one, as `paperbot check` does) and the index; follow the store."""
        started = time.perf_counter()
        check_models()  # a damaged model file stops serve here, as `paperbot check` reports it
        store = open_store(home, timeout=BUSY_TIMEOUT)
        try:
            with contextlib.suppress(StoreBusy):  # busy: another process is writing, so the file is writable
                store.probe_writable()
            engine = cls(store, open_index(home, store).warm(), home)
        except BaseException:
            store.close()
            raise
        engine.start_semantic(semantic)
        engine.load_seconds = time.perf_counter() - started
        if refresh_seconds:
            engine.start_refresher(refresh_seconds)
        return engine

    def start_semantic(self, wanted: bool | None = None) -> None:
        """Open the semantic stage (PAPERBOT_SEMANTIC, on by default) and start encoding papers without vectors.

        Search never waits for the builder: a paper without a vector is ranked by BM25 alone meanwhile.
        """
        from bot.settings import semantic_setting
        from retrieval.semantic.stage import open_stage
        from retrieval.semantic.vectors import StoreChanges, VectorBuilder

        setting, model = semantic_setting()
        if not (setting if wanted is None else wanted) or self.home is None:
            return
        self.stage = open_stage(self.home, model)
        if self.stage is None:
            return

        self.builder = VectorBuilder(self.stage.vectors, self.stage.encoder, StoreChanges(self.store.path))
        self.builder.start()
        log.info(
            "semantic stage on: %d paper vectors loaded; encoding the rest in the background", len(self.stage.vectors)
        )

    def close(self) -> None:
        if self.builder is not None:
            self.builder.stop()
            self.builder.join(timeout=30)
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(timeout=5)
        with self.lock:
            self.store.close()

    # ---- following other processes' writes ----

    def refresh(self) -> int:
        """Catch the index up with the store if its change counter moved; returns how many papers were indexed.

        Cheap when nothing changed (one row read), so it runs before every answer. The
        catch-up is not saved here: the process that wrote the papers saved its index.
        """
        with self.lock:
            if self.store.sequence <= self.index.seq:
                return 0
            self.index, added = follow(self.index, self.store, self.home / INDEX_DIR if self.home else None)
        if added:
            log.info("index caught up with the store: %d papers (change %d)", added, self.index.seq)
            if self.builder is not None:
                self.builder.poke()  # their vectors too
        return added

    def start_refresher(self, interval: float = REFRESH_SECONDS) -> None:
        """A daemon thread that calls `refresh` every `interval` seconds, so idle bots follow the store too."""

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.refresh()
                except StoreError as exc:  # busy or damaged: say so, try again next time
                    log.warning("could not follow the store: %s", exc)

        self._refresher = threading.Thread(target=loop, name="paperbot-refresh", daemon=True)
        self._refresher.start()

    # ---- blocking calls (run in a thread) ----

    def ask(self, question: str, options: AnswerOptions | None = None) -> Answer:
        with self.lock:
            self.refresh()
            return answer_question(question, self.index, self.store, options, self.stage)

    def search(self, request: SearchRequest) -> list[SearchHit]:
        with self.lock:
            self.refresh()
            return run_search(self.index, self.store, request, self.stage)

    def read_as(self, query: str) -> str | None:
        """How a query was read when misspelt words were corrected (None: as typed)."""
        with self.lock:
            return self.index.read_as(query)

    def paper(self, raw_id: str) -> PaperOut | None:
        paper = self.find_paper(raw_id)
        if paper is None:
            return None
        with self.lock:
            return paper_with_tldr(paper, self.index)

    def add_papers(self, papers: list[Paper]) -> int:
        """Store new papers and bring the index up to date incrementally (no rebuild); save it if it changed.

        Raises StoreBusy when another process holds the write lock past BUSY_TIMEOUT.
        """
        with self.lock:
            report = self.store.ingest(papers)
            if report.added or report.updated:
                self.index.catch_up(self.store)
                if self.home is not None:
                    save_quietly(self.index, self.home / INDEX_DIR)
        if self.builder is not None and (report.added or report.updated):
            self.builder.poke()
        return report.added

    # ---- conversations, citations, related papers, feedback (issue #15) ----

    def _answers(self) -> Feedback:
        """The answers-and-votes tables; call with the lock held."""
        if self._feedback is None:
            self._feedback = Feedback(self.store)
        return self._feedback

    def conversation(self, reply_to: str | None, channel_id: str | None) -> tuple[list[Turn], str | None]:
        """The turns a new question continues, and the conversation's key (its first answer's message id).

        A reply to a kept answer continues that answer's conversation; otherwise a question asked in a
        thread opened from an answer (Discord gives such a thread the answer message's id) continues
        the thread's. A reply chain outside threads is keyed the same way, so a reply to a reply
        still sees the whole chain. ([], None) when the question starts a conversation.
        """
        with self.lock:
            answers = self._answers()
            key = None
            replied = answers.answer(reply_to) if reply_to else None
            if replied is not None:
                key = replied.thread_id or replied.message_id
            elif channel_id and (answers.answer(channel_id) is not None or answers.thread(channel_id)):
                key = channel_id
            if key is None:
                return [], None
            first = answers.answer(key)
            stored = ([first] if first else []) + [a for a in answers.thread(key) if a.message_id != key]
            if replied is not None and all(a.message_id != replied.message_id for a in stored):
                stored.append(replied)
            return [Turn(question=a.question, cited=a.cited) for a in stored], key

    def follow_up(self, question: str, turns: list[Turn]) -> ContextAnswer:
        with self.lock:
            self.refresh()
            return answer_follow_up(question, turns, self.index, self.store, stage=self.stage)

    def remember(self, message_id: str, answer: Answer, thread_id: str | None = None) -> None:
        """Keep an answer the bot sent, by its message id, for votes and follow-ups."""
        with self.lock:
            self._answers().remember(
                message_id, answer.question, answer.model_dump(mode="json"), answer_versions(self.index), thread_id
            )

    def stored_question(self, message_id: str) -> str | None:
        with self.lock:
            stored = self._answers().answer(message_id)
            return stored.question if stored else None

    def vote(self, message_id: str, voter: str, vote: int) -> str:
        """'recorded', 'again' (this voter already voted on it) or 'unknown' (no such answer kept)."""
        with self.lock:
            answers = self._answers()
            if answers.answer(message_id) is None:
                return "unknown"
            return "recorded" if answers.vote(message_id, voter, 1 if vote > 0 else -1) else "again"

    def papers(self, paper_ids: list[str]) -> list[Paper]:
        """The papers among `paper_ids` still in the corpus, in the given order."""
        with self.lock:
            found = self.store.get_many(list(dict.fromkeys(paper_ids)))
        return [found[pid] for pid in dict.fromkeys(paper_ids) if pid in found]

    def find_paper(self, raw_id: str) -> Paper | None:
        try:
            paper_id, _ = normalise_id(raw_id)
        except InvalidId:
            return None
        with self.lock:
            self.refresh()
            return self.store.get(paper_id)

    def related(self, raw_id: str, k: int = 5) -> tuple[Paper | None, list[tuple[Paper, float]]]:
        """The paper and the k papers most like it, best first; (None, []) for an unknown id."""
        paper = self.find_paper(raw_id)
        if paper is None:
            return None, []
        with self.lock:
            hits = related_papers(paper, self.index, k)
            found = self.store.get_many([h.paper_id for h in hits])
        return paper, [(found[h.paper_id], h.score) for h in hits if h.paper_id in found]

    # ---- async wrappers ----

    async def refresh_async(self) -> int:
        return await asyncio.to_thread(self.refresh)

    async def add_papers_async(self, papers: list[Paper]) -> int:
        return await asyncio.to_thread(self.add_papers, papers)

    async def ask_async(self, question: str) -> Answer:
        return await asyncio.to_thread(self.ask, question)

    async def search_async(self, request: SearchRequest) -> list[SearchHit]:
        return await asyncio.to_thread(self.search, request)

    async def paper_async(self, raw_id: str) -> PaperOut | None:
        return await asyncio.to_thread(self.paper, raw_id)

    async def run(self, method, *args):
        """Any blocking method above, in a worker thread (e.g. `await engine.run(engine.vote, mid, uid, 1)`)."""
        return await asyncio.to_thread(method, *args)
