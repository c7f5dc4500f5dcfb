"""`digest` and `fetch`: a day's papers, and pulling the configured arXiv feeds."""

from __future__ import annotations

import argparse
import sys

from pydantic import BaseModel

from bot.cli.common import EXIT_USAGE, Context, UserError, _settings, emit


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


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
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
