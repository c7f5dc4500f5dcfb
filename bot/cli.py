"""The `paperbot` command line: ask, search, paper, ingest, corpus, eval, serve.

Every command prints readable text by default and a pydantic-shaped JSON object with
--json. User mistakes (unknown id, empty query, unreadable file) end with one line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel, ValidationError

from corpus.home import open_store, resolve_home
from corpus.loaders import LoadError, load_path
from corpus.models import InvalidId, normalise_id
from corpus.store import IngestReport, Store, StoreError
from retrieval.index import SearchIndex, open_index

EXIT_USAGE = 2


class UserError(Exception):
    """A mistake the user can fix: printed as one line, exit status 1 (or `code`)."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------- JSON shapes


class HitOut(BaseModel):
    paper_id: str
    score: float
    title: str
    url: str | None
    published: str | None


class SearchOut(BaseModel):
    query: str
    hits: list[HitOut]


class FileReport(IngestReport):
    path: str
    rejected: int = 0
    errors: list[str] = []


class IngestOut(BaseModel):
    files: list[FileReport]
    added: int
    updated: int
    unchanged: int
    rejected: int
    papers: int


class BatchQuery(BaseModel):
    id: str
    text: str = ""


# ---------------------------------------------------------------------------- context


class Context:
    """The home, its store and (lazily) its index, opened once per command."""

    def __init__(self, home: Path):
        self.home = home
        self.store: Store = open_store(home)
        self._index: SearchIndex | None = None

    def sync_index(self) -> SearchIndex:
        """Load the index and bring it up to the store's state (building it the first time)."""
        return self.index

    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            self._index = open_index(self.home, self.store, workers=min(2, os.cpu_count() or 1))
        return self._index


def emit(args: argparse.Namespace, model: BaseModel, text: Callable[[], str]) -> None:
    print(model.model_dump_json(indent=2) if args.json else text())


def read_batch(path: str, model: type[BaseModel]) -> Iterator[BaseModel]:
    """JSON Lines input for --batch, validated line by line with a `file:line:` error."""
    source = Path(path)
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read batch file: {exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield model.model_validate_json(line)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"]) or "record"
            raise UserError(f"{path}:{number}: {field}: {error['msg']}") from None


# ---------------------------------------------------------------------------- commands


def cmd_search(args: argparse.Namespace, ctx: Context) -> int:
    from retrieval.search import SearchRequest, run_search

    def hits_for(text: str) -> list[HitOut]:
        request = SearchRequest(
            query=text, k=args.k, year_from=args.year_from, year_to=args.year_to, author=args.author, rerank=args.rerank
        )
        return [HitOut(**hit.model_dump()) for hit in run_search(ctx.index, ctx.store, request)]

    if args.batch:
        for query in read_batch(args.batch, BatchQuery):
            hits = [{"paper_id": h.paper_id, "score": h.score} for h in hits_for(query.text)]
            print(json.dumps({"id": query.id, "hits": hits}, ensure_ascii=False))
        return 0
    query = require_text(args.query, "query")
    out = SearchOut(query=query, hits=hits_for(query))

    def text() -> str:
        if not out.hits:
            return f"No papers match {query!r}."
        lines = [f"{'#':>3}  {'score':>6}  {'id':<16} {'year':<4}  title"]
        for rank, hit in enumerate(out.hits, 1):
            year = (hit.published or "")[:4]
            lines.append(f"{rank:>3}  {hit.score:6.2f}  {hit.paper_id:<16} {year:<4}  {hit.title}")
        return "\n".join(lines)

    emit(args, out, text)
    return 0


def cmd_ask(args: argparse.Namespace, ctx: Context) -> int:
    from retrieval.answer import AnswerOptions, answer_question, render_answer_text

    options = AnswerOptions(max_sentences=args.max_sentences, max_chars=args.max_chars)
    if args.batch:
        for query in read_batch(args.batch, BatchQuery):
            answer = answer_question(query.text, ctx.index, ctx.store, options)
            print(json.dumps({"id": query.id, "answer": answer.model_dump(mode="json")}, ensure_ascii=False))
        return 0
    question = require_text(args.question, "question")
    answer = answer_question(question, ctx.index, ctx.store, options)
    emit(args, answer, lambda: render_answer_text(answer))
    return 0


def cmd_paper(args: argparse.Namespace, ctx: Context) -> int:
    from retrieval.tldr import PaperOut, paper_with_tldr, render_paper_text

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
        if strict:
            raise UserError(str(exc)) from None
        return None
    paper = ctx.store.get(paper_id)
    if paper is None and strict:
        raise UserError(f"no paper {paper_id!r} in the corpus ({len(ctx.store)} papers); try `paperbot search`")
    return paper


def cmd_ingest(args: argparse.Namespace, ctx: Context) -> int:
    started = time.perf_counter()
    reports: list[FileReport] = []
    for raw in args.paths:
        try:
            papers = load_path(raw)
        except LoadError as exc:
            reports.append(FileReport(path=raw, rejected=1, errors=exc.render().splitlines()))
            continue
        reports.append(FileReport(path=raw, **ctx.store.ingest(papers).model_dump()))
    if any(r.added or r.updated for r in reports):
        ctx.sync_index()  # now, so the next command starts at once
    total = sum(
        (IngestReport(**r.model_dump(include={"added", "updated", "unchanged"})) for r in reports), IngestReport()
    )
    out = IngestOut(
        files=reports, rejected=sum(r.rejected for r in reports), papers=len(ctx.store), **total.model_dump()
    )
    for report in reports:
        for error in report.errors:
            print(error, file=sys.stderr)

    def text() -> str:
        lines = []
        for r in reports:
            status = (
                "rejected (nothing stored)"
                if r.rejected
                else f"{r.added} added, {r.updated} updated, {r.unchanged} unchanged"
            )
            lines.append(f"{r.path}: {status}")
        lines.append(
            f"total: {out.added} added, {out.updated} updated, {out.unchanged} unchanged, {out.rejected} rejected;"
            f" {out.papers} papers in the corpus ({time.perf_counter() - started:.1f} s)"
        )
        return "\n".join(lines)

    emit(args, out, text)
    return 1 if out.rejected else 0


def cmd_corpus(args: argparse.Namespace, ctx: Context) -> int:
    stats = ctx.store.stats()
    ctx.sync_index()  # so a fresh home is searchable, and `paperbot check` finds a fresh index

    def text() -> str:
        span = f"{stats.earliest} to {stats.latest}" if stats.earliest else "no dates"
        sources = ", ".join(f"{name} ({count})" for name, count in stats.sources.items())
        return f"{stats.papers} papers, published {span}\nsources: {sources}\nhome: {ctx.home}"

    emit(args, stats, text)
    return 0


def cmd_eval(args: argparse.Namespace, ctx: Context) -> int:
    from retrieval.evaluate import default_data_dir

    data_dir = Path(args.data) if args.data else default_data_dir()
    if not (data_dir / "scifact").is_dir():
        raise UserError(f"{data_dir}: no scifact/ folder here; pass --data PATH/TO/shared/data")
    if args.task == "retrieval":
        from retrieval.benchmarks import eval_retrieval

        result = eval_retrieval(data_dir, args.split)
    elif args.task == "evidence":
        from retrieval.benchmarks import eval_evidence

        result = eval_evidence(data_dir, args.split)
    else:
        from retrieval.benchmarks import eval_tldr

        result = eval_tldr(data_dir, args.split)
    emit(args, result, lambda: "\n".join(_flat_lines(result.model_dump())))
    return 0


def _flat_lines(data: dict, prefix: str = "") -> list[str]:
    """`key: value` lines, nested figures as `outer.inner: value` (the JSON form keeps the nesting)."""
    lines = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines += _flat_lines({k: v for k, v in value.items() if k not in ("split", "queries")}, f"{prefix}{key}.")
        else:
            lines.append(f"{prefix}{key}: {value}")
    return lines


class DigestItemOut(BaseModel):
    paper_id: str
    title: str
    url: str | None
    authors: list[str]
    tldr: str | None


class DigestOut(BaseModel):
    date: str
    papers: list[DigestItemOut]


def cmd_digest(args: argparse.Namespace, ctx: Context) -> int:
    import datetime as dt

    from retrieval.digest import build_digest, select_papers

    try:
        day = dt.date.fromisoformat(args.date) if args.date else dt.datetime.now(dt.UTC).date()
    except ValueError:
        raise UserError(f"--date {args.date!r}: expected YYYY-MM-DD", EXIT_USAGE) from None
    papers = ctx.store.published_on(day)
    keywords = [k.strip() for k in (args.keywords or "").split(",") if k.strip()]
    authors = [a.strip() for a in (args.authors or "").split(",") if a.strip()]
    digest = build_digest(day, select_papers(papers, ctx.index, keywords, authors), ctx.index)
    out = DigestOut(date=day.isoformat(), papers=[DigestItemOut(**item.model_dump()) for item in digest.papers])

    def text() -> str:
        if not out.papers:
            return f"No papers published on {day} in the corpus."
        lines = [f"Papers published on {day}:"]
        for item in out.papers:
            names = ", ".join(item.authors[:3]) + (" et al." if len(item.authors) > 3 else "")
            lines += ["", f"{item.title} ({item.paper_id}) {item.url or ''}".rstrip()]
            if names:
                lines.append(f"  {names}")
            if item.tldr:
                lines.append(f"  TL;DR: {item.tldr}")
        return "\n".join(lines)

    emit(args, out, text)
    return 0


def cmd_fetch(args: argparse.Namespace, ctx: Context) -> int:
    import asyncio

    from corpus.feeds import FeedSource, fetch_all

    settings = _settings()
    specs = args.feeds or settings.feeds
    if not specs:
        raise UserError(
            "no feeds configured: set PAPERBOT_FEEDS (e.g. cs.LG,search:abs:DeepMind) or pass --feed", EXIT_USAGE
        )
    result = asyncio.run(fetch_all([FeedSource(spec=s) for s in specs], delay=settings.fetch_delay))
    report = ctx.store.ingest(result.papers)
    ctx.sync_index()
    for error in result.errors:
        print(error, file=sys.stderr)
    print(
        f"fetched {len(result.papers)} papers from {len(specs)} feeds: {report.added} added, {report.updated} updated,"
        f" {report.unchanged} unchanged; {len(result.errors)} feeds failed"
    )
    return 1 if result.errors and not result.papers else 0


def cmd_check(args: argparse.Namespace, ctx: Context | None) -> int:
    from bot.check import run_checks

    try:
        settings = _settings()
    except UserError as exc:
        print(f"problem: {exc}")
        return 1
    report = run_checks(resolve_home(args.home or settings.home), settings, need_token=not args.no_token)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        for line in report.ok:
            print(f"ok: {line}")
        for line in report.problems:
            print(f"problem: {line}")
    return 0 if report.healthy else 1


def cmd_serve(args: argparse.Namespace, ctx: Context | None) -> int:
    from bot.main import serve

    settings = _settings()
    return serve(resolve_home(args.home or settings.home), settings, sync="force" if args.sync else "auto")


def cmd_sync(args: argparse.Namespace, ctx: Context | None) -> int:
    from bot.main import sync_once

    settings = _settings()
    return sync_once(resolve_home(args.home or settings.home), settings)


def _settings():
    from bot.settings import load_settings

    try:
        return load_settings()
    except ValueError as exc:
        raise UserError(f"bad settings: {exc}", EXIT_USAGE) from None


def require_text(value: str | None, what: str) -> str:
    if value is None or not value.strip() or not any(ch.isalnum() for ch in value):
        raise UserError(f"the {what} is empty: type some words, e.g. paperbot {what_example(what)}", EXIT_USAGE)
    return value.strip()


def what_example(what: str) -> str:
    return (
        'ask "how do you train transformers without normalisation?"'
        if what == "question"
        else 'search "vision transformers"'
    )


# ---------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help="paperbot's data folder (default: $PAPERBOT_HOME or the user data dir)",
    )
    common.add_argument("--json", action="store_true", help="print JSON instead of text")

    parser = argparse.ArgumentParser(
        prog="paperbot", description="Answers questions about research-paper abstracts, with citations."
    )
    parser.add_argument("--home", default=None, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = commands.add_parser("ask", parents=[common], help="answer a question with cited sentences from the corpus")
    ask.add_argument("question", nargs="?")
    ask.add_argument("--max-sentences", type=int, default=3)
    ask.add_argument("--max-chars", type=int, default=600)
    ask.add_argument("--batch", metavar="FILE", help='JSON Lines {"id", "text"} in, one answer per line out')
    ask.set_defaults(handler=cmd_ask)

    search = commands.add_parser("search", parents=[common], help="ranked papers for a query")
    search.add_argument("query", nargs="?")
    search.add_argument("--k", type=int, default=10, help="how many results (default 10)")
    search.add_argument("--year-from", type=int)
    search.add_argument("--year-to", type=int)
    search.add_argument("--author", help="keep papers with an author whose name contains this")
    search.add_argument(
        "--rerank", action="store_true", help="re-order BM25's top 50 with the second stage (see README, Retrieval)"
    )
    search.add_argument("--batch", metavar="FILE", help='JSON Lines {"id", "text"} in, one hit list per line out')
    search.set_defaults(handler=cmd_search)

    paper = commands.add_parser("paper", parents=[common], help="one paper: metadata, TLDR and abstract")
    paper.add_argument("id", nargs="?")
    paper.add_argument("--batch", metavar="FILE", help='JSON Lines {"id"} in, {"id", "tldr"} out')
    paper.set_defaults(handler=cmd_paper)

    ingest = commands.add_parser(
        "ingest", parents=[common], help="add papers from seed text, JSON Lines or arXiv Atom/RSS files"
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.set_defaults(handler=cmd_ingest)

    corpus = commands.add_parser("corpus", parents=[common], help="what the corpus holds")
    corpus.set_defaults(handler=cmd_corpus)

    evaluate = commands.add_parser("eval", parents=[common], help="measure quality on the benchmarks in ../shared/data")
    evaluate.add_argument("task", choices=["retrieval", "evidence", "tldr"])
    evaluate.add_argument(
        "--split", default="test", help="retrieval: train|test; evidence: train|dev; tldr: train|dev|test"
    )
    evaluate.add_argument("--data", help="the shared/data folder (default: ../shared/data beside the checkout)")
    evaluate.set_defaults(handler=cmd_eval)

    check = commands.add_parser("check", parents=[common], help="health check: settings, store, index, token")
    check.add_argument("--no-token", action="store_true", help="do not require DISCORD_TOKEN (CLI-only installs)")
    check.set_defaults(handler=cmd_check)

    digest = commands.add_parser("digest", parents=[common], help="the digest of papers published on a day")
    digest.add_argument("--date", help="YYYY-MM-DD (default: today, UTC)")
    digest.add_argument("--keywords", help="comma-separated: rank and keep papers matching these")
    digest.add_argument("--authors", help="comma-separated: keep papers by these authors")
    digest.set_defaults(handler=cmd_digest)

    fetch = commands.add_parser(
        "fetch", parents=[common], help="pull the configured arXiv feeds once and store new papers"
    )
    fetch.add_argument(
        "--feed", dest="feeds", action="append", help="a feed (cs.LG, search:QUERY or a URL); repeatable"
    )
    fetch.set_defaults(handler=cmd_fetch)

    serve = commands.add_parser("serve", parents=[common], help="run the Discord bot (needs DISCORD_TOKEN)")
    serve.add_argument("--sync", action="store_true", help="sync slash commands even if unchanged")
    serve.set_defaults(handler=cmd_serve)

    sync = commands.add_parser("sync", parents=[common], help="sync the slash commands with Discord now, then exit")
    sync.set_defaults(handler=cmd_sync)

    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        needs_store = args.command not in {"eval", "serve", "sync", "check"}
        ctx = Context(resolve_home(args.home)) if needs_store else None
        try:
            return args.handler(args, ctx)
        finally:
            if ctx:
                ctx.store.close()
    except UserError as exc:
        print(f"paperbot: {exc}", file=sys.stderr)
        return exc.code
    except (StoreError, LoadError) as exc:
        print(f"paperbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
