"""The bot's view of the corpus: store + index behind one lock, called from worker threads.

Discord handlers await these through `asyncio.to_thread`, so BM25 and sentence
selection never block the event loop (and with it the gateway heartbeat).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

from corpus.home import open_store
from corpus.models import InvalidId, Paper, normalise_id
from corpus.store import Store
from retrieval.answer import Answer, AnswerOptions, answer_question
from retrieval.index import INDEX_DIR, SearchIndex, open_index
from retrieval.search import SearchHit, SearchRequest, run_search
from retrieval.tldr import PaperOut, paper_with_tldr

log = logging.getLogger(__name__)


class Engine:
    """Thread-safe access to the corpus for the bot."""

    def __init__(self, store: Store, index: SearchIndex, home: Path | None = None):
        self.store = store
        self.index = index
        self.home = home
        self.lock = threading.Lock()
        self.load_seconds = 0.0
        self.stage = None  # retrieval.semantic.SemanticStage when the model is installed and the setting allows
        self.builder = None  # retrieval.vectors.VectorBuilder encoding new papers in the background

    @classmethod
    def open(cls, home: Path, semantic: bool | None = None) -> Engine:
        started = time.perf_counter()
        store = open_store(home)
        engine = cls(store, open_index(home, store).warm(), home)
        engine.start_semantic(semantic)
        engine.load_seconds = time.perf_counter() - started
        return engine

    def start_semantic(self, wanted: bool | None = None) -> None:
        """Open the semantic stage (PAPERBOT_SEMANTIC, on by default) and start encoding papers without vectors.

        Search never waits for the builder: a paper without a vector is ranked by BM25 alone meanwhile.
        """
        from bot.settings import semantic_setting
        from retrieval.semantic import open_stage
        from retrieval.vectors import StoreChanges, VectorBuilder

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
        self.store.close()

    # ---- blocking calls (run in a thread) ----

    def ask(self, question: str, options: AnswerOptions | None = None) -> Answer:
        with self.lock:
            return answer_question(question, self.index, self.store, options)

    def search(self, request: SearchRequest) -> list[SearchHit]:
        with self.lock:
            return run_search(self.index, self.store, request, self.stage)

    def paper(self, raw_id: str) -> PaperOut | None:
        try:
            paper_id, _ = normalise_id(raw_id)
        except InvalidId:
            return None
        with self.lock:
            paper = self.store.get(paper_id)
            return paper_with_tldr(paper, self.index) if paper else None

    def add_papers(self, papers: list[Paper]) -> int:
        """Store new papers and bring the index up to date incrementally (no rebuild)."""
        with self.lock:
            report = self.store.ingest(papers)
            if report.added or report.updated:
                self.index.catch_up(self.store, self.home / INDEX_DIR if self.home else None)
        if self.builder is not None and (report.added or report.updated):
            self.builder.poke()
        return report.added

    # ---- async wrappers ----

    async def ask_async(self, question: str) -> Answer:
        return await asyncio.to_thread(self.ask, question)

    async def search_async(self, request: SearchRequest) -> list[SearchHit]:
        return await asyncio.to_thread(self.search, request)

    async def paper_async(self, raw_id: str) -> PaperOut | None:
        return await asyncio.to_thread(self.paper, raw_id)
