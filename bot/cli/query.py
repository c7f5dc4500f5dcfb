"""`ask`, `search` and `paper`: questions and look-ups against the index."""

from __future__ import annotations

import argparse
import contextlib
import json
from typing import TYPE_CHECKING

from pydantic import BaseModel

from bot.cli.common import (
    EXIT_USAGE,
    BatchQuery,
    Context,
    UserError,
    cut,
    emit,
    field_range,
    int_in,
    read_batch,
    require_text,
)
from corpus.models import InvalidId, arxiv_id_year, normalise_id
from retrieval.answers.search import MAX_K
from retrieval.answers.sentences import AnswerOptions

if TYPE_CHECKING:  # the answer pipeline is imported by `ask` itself: `search` and the rest start ~0.07 s sooner
    from retrieval.answers.answer import Answer, AnswerSentence

YEARS = (1, 9999)
ENCODE_NOW = 64  # papers without a vector that `ask`/`search` encode before answering (~2 s at most) ...
ENCODE_NOW_STORE = 5_000  # ... in a home this small (finding them reads every record)


class HitOut(BaseModel):
    paper_id: str
    score: float
    title: str
    url: str | None
    published: str | None


class SearchOut(BaseModel):
    query: str
    hits: list[HitOut]
    read_as: str | None = None  # the query as searched, when misspelt words were corrected
    score_scale: str = "bm25"  # what `score` is: "bm25" (unbounded), "fused" (0..1, BM25 with the embeddings), "rerank"


SCALES = {
    "bm25": "score: BM25 (higher is better, no upper bound)",
    "fused": "score: fused, 0 to 1 (BM25 scaled to 0..1 and the embedding model's cosine; --no-semantic for BM25)",
    "rerank": "score: the second stage's (--rerank)",
}


def semantic_stage(args: argparse.Namespace, ctx: Context):
    """The semantic stage if --semantic (default: PAPERBOT_SEMANTIC, on) and a model is installed, else None.

    Without a model: one notice on stderr, BM25 only. In a small home a few papers without a vector are
    encoded on the spot; otherwise papers not encoded yet are ranked by BM25 alone, with one notice saying
    how to encode them (the bot encodes them in the background).
    """
    import sys

    from bot.cli.vectors import build_command
    from bot.settings import semantic_setting
    from retrieval.semantic.encoder import ModelUnavailable, load_encoder
    from retrieval.semantic.stage import SemanticStage
    from retrieval.semantic.vectors import VectorStore

    setting, model = semantic_setting()
    if not (setting if args.semantic is None else args.semantic) or getattr(args, "rerank", False):
        return None
    try:
        encoder = load_encoder(model)
    except ModelUnavailable as exc:
        print(f"notice: {exc}", file=sys.stderr)
        return None
    stage = SemanticStage(encoder, VectorStore.for_model(ctx.home, encoder.model_id))
    missing = len(ctx.store) - len(stage.vectors)
    if 0 < missing <= ENCODE_NOW and len(ctx.store) <= ENCODE_NOW_STORE:
        # a few papers (a new home's bundled 13, a small library): encoding them now takes about a second
        from retrieval.semantic.encoder import document_text
        from retrieval.semantic.vectors import content_hash

        papers = {p.id: p for p in ctx.store.papers()}
        todo = stage.vectors.missing((p.id, content_hash(p.title, p.abstract)) for p in papers.values())
        texts = [document_text(papers[i].title, papers[i].abstract) for i, _ in todo]
        with contextlib.suppress(OSError):  # a read-only home: they stay BM25-ranked, and the notice says so
            stage.vectors.add([i for i, _ in todo], [h for _, h in todo], encoder.encode(texts))
        missing = len(ctx.store) - len(stage.vectors)
    if missing > 0:
        print(
            f"notice: {missing} papers have no vector yet and are ranked by BM25 alone; "
            f"`{build_command(ctx.home)}` encodes them (`paperbot vectors status` counts them)",
            file=sys.stderr,
        )
    return stage


def year_range_problem(year_from: int | None, year_to: int | None, flags: tuple[str, str]) -> str | None:
    """Why a year range can match nothing (its start after its end), with the fix; None when it is fine."""
    if year_from is not None and year_to is not None and year_from > year_to:
        start, end = flags
        return (
            f"{start} {year_from} is after {end} {year_to}: no year is in both;"
            f" did you mean {start} {year_to} {end} {year_from}?"
        )
    return None


def check_search(args: argparse.Namespace) -> None:
    """Options that are wrong together, refused before the home is opened: a search that cannot match is an error."""
    problem = year_range_problem(args.year_from, args.year_to, ("--year-from", "--year-to"))
    if problem:
        raise UserError(problem, EXIT_USAGE)


def cmd_search(args: argparse.Namespace, ctx: Context) -> int:
    from retrieval.answers.search import SearchRequest, run_search

    stage = semantic_stage(args, ctx)

    def hits_for(text: str) -> list[HitOut]:
        request = SearchRequest(
            query=text, k=args.k, year_from=args.year_from, year_to=args.year_to, author=args.author, rerank=args.rerank
        )
        return [HitOut(**hit.model_dump()) for hit in run_search(ctx.index, ctx.store, request, stage)]

    if args.batch:
        for query in read_batch(args.batch, BatchQuery):
            hits = [{"paper_id": h.paper_id, "score": h.score} for h in hits_for(query.text)]
            print(json.dumps({"id": query.id, "hits": hits}, ensure_ascii=False))
        return 0
    query = require_text(args.query, "query")
    scale = "rerank" if args.rerank else "fused" if stage is not None and args.semantic is not False else "bm25"
    out = SearchOut(query=cut(query), hits=hits_for(query), read_as=ctx.index.read_as(query), score_scale=scale)

    def text() -> str:
        read = f"Read as: {out.read_as}\n" if out.read_as else ""
        if not out.hits:
            return f"{read}No papers match {out.query!r}."
        lines = [f"{read}{'#':>3}  {out.score_scale:>6}  {'id':<16} {'year':<4}  title"]  # the column names its scale
        for rank, hit in enumerate(out.hits, 1):
            year = (hit.published or "")[:4] or str(arxiv_id_year(hit.paper_id) or "")
            lines.append(f"{rank:>3}  {hit.score:6.2f}  {hit.paper_id:<16} {year:<4}  {hit.title}")
        lines.append(SCALES[out.score_scale])
        return "\n".join(lines)

    emit(args, out, text)
    return 0


def fit_answer(answer: Answer, max_chars: int) -> Answer:
    """The answer within `max_chars` characters of sentence text, the question echoed at most 200.

    The selector keeps later sentences inside the budget but always keeps the best one, even
    when it alone is longer (a 233-character sentence under --max-chars 100). Such a sentence
    is cut at the last word that fits and ends in "…", so what is shown is still a verbatim
    prefix of the abstract; the sentences after it are dropped.
    """
    kept: list[AnswerSentence] = []
    used = 0
    for sentence in answer.answer:
        room = max_chars - used
        if len(sentence.text) <= room:
            kept.append(sentence)
            used += len(sentence.text) + 1
            continue
        if not kept:
            head = sentence.text[: room - 1]
            head = head.rsplit(" ", 1)[0] if " " in head else head
            kept.append(sentence.model_copy(update={"text": head.rstrip(" ,;:") + "…"}))
        break
    cited = {s.citation for s in kept}
    return answer.model_copy(
        update={
            "question": cut(answer.question),
            "answer": kept,
            "citations": [c for c in answer.citations if c.n in cited],
        }
    )


def cmd_ask(args: argparse.Namespace, ctx: Context) -> int:
    from retrieval.answers.answer import answer_question, render_answer_text

    options = AnswerOptions(max_sentences=args.max_sentences, max_chars=args.max_chars)
    stage = semantic_stage(args, ctx)
    if args.batch:
        for query in read_batch(args.batch, BatchQuery):
            answer = fit_answer(answer_question(query.text, ctx.index, ctx.store, options, stage), options.max_chars)
            print(json.dumps({"id": query.id, "answer": answer.model_dump(mode="json")}, ensure_ascii=False))
        return 0
    question = require_text(args.question, "question")
    answer = fit_answer(answer_question(question, ctx.index, ctx.store, options, stage), options.max_chars)
    emit(args, answer, lambda: render_answer_text(answer))
    return 0


def cmd_paper(args: argparse.Namespace, ctx: Context) -> int:
    from retrieval.answers.tldr import PaperOut, paper_with_tldr, render_paper_text

    if args.batch:
        for query in read_batch(args.batch, BatchQuery):
            paper = find_paper(ctx, query.id, strict=False)
            tldr = paper_with_tldr(paper, ctx.index).tldr if paper else None
            print(json.dumps({"id": query.id, "tldr": tldr}, ensure_ascii=False))
        return 0
    if not args.id:
        raise UserError("give a paper id, e.g. paperbot paper 2403.05530", EXIT_USAGE)
    paper = find_paper(ctx, args.id)
    out: PaperOut = paper_with_tldr(paper, ctx.index)
    emit(args, out, lambda: render_paper_text(out))
    return 0


def find_paper(ctx: Context, raw_id: str, strict: bool = True):
    try:
        paper_id, _ = normalise_id(raw_id)
    except InvalidId as exc:
        if strict:  # the message quotes the id: cut it, a 50,000-character paste is not worth repeating
            raise UserError(str(exc).replace(repr(raw_id), repr(cut(raw_id)))) from None
        return None
    paper = ctx.store.get(paper_id)
    if paper is None and strict:
        raise UserError(f"no paper {cut(paper_id)!r} in the corpus ({len(ctx.store)} papers); try `paperbot search`")
    return paper


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ask = commands.add_parser("ask", parents=[common], help="answer a question with cited sentences from the corpus")
    ask.add_argument("question", nargs="?")
    sentences, chars = field_range(AnswerOptions, "max_sentences"), field_range(AnswerOptions, "max_chars")
    ask.add_argument(
        "--max-sentences",
        type=int_in(*sentences),
        default=3,
        metavar="N",
        help=f"at most N sentences, {sentences[0]}..{sentences[1]} (default 3)",
    )
    ask.add_argument(
        "--max-chars",
        type=int_in(*chars),
        default=600,
        metavar="N",
        help=f"at most N characters of sentences, {chars[0]}..{chars[1]} (default 600); a longer first sentence"
        ' is cut at a word with "…"',
    )
    ask.add_argument(
        "--semantic",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rank with BM25's top 1,000 fused with the embedding model, and judge answer-or-abstain with its"
        " model (default: PAPERBOT_SEMANTIC, on when installed)",
    )
    ask.add_argument(
        "--batch", metavar="FILE", help='JSON Lines {"id", "text"} in (- for stdin), one answer per line out'
    )
    ask.set_defaults(handler=cmd_ask)

    search = commands.add_parser("search", parents=[common], help="ranked papers for a query")
    search.add_argument("query", nargs="?")
    search.add_argument(
        "--k", type=int_in(1, MAX_K), default=10, metavar="N", help=f"how many results, 1..{MAX_K} (default 10)"
    )
    search.add_argument("--year-from", type=int_in(*YEARS), metavar="YEAR", help="published in or after YEAR")
    search.add_argument("--year-to", type=int_in(*YEARS), metavar="YEAR", help="published in or before YEAR")
    search.add_argument("--author", help="keep papers with an author whose name contains this")
    search.add_argument(
        "--rerank", action="store_true", help="re-order BM25's top 50 with the second stage (see README, Retrieval)"
    )
    search.add_argument(
        "--semantic",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fuse BM25's top 1,000 with the embedding model (default: PAPERBOT_SEMANTIC, on when installed)",
    )
    search.add_argument(
        "--batch", metavar="FILE", help='JSON Lines {"id", "text"} in (- for stdin), one hit list per line out'
    )
    search.set_defaults(handler=cmd_search, check_args=check_search)

    paper = commands.add_parser("paper", parents=[common], help="one paper: metadata, TLDR and abstract")
    paper.add_argument("id", nargs="?")
    paper.add_argument("--batch", metavar="FILE", help='JSON Lines {"id"} in (- for stdin), {"id", "tldr"} out')
    paper.set_defaults(handler=cmd_paper)
