"""`digest` and `fetch`: a day's papers, and pulling the configured arXiv feeds."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
import urllib.parse
from collections.abc import Iterator

from pydantic import BaseModel

from bot.cli import waits
from bot.cli.common import EXIT_USAGE, Context, UserError, _settings, cut, emit


class DigestItemOut(BaseModel):
    paper_id: str
    title: str
    url: str | None
    authors: list[str]
    tldr: str | None


class DigestOut(BaseModel):
    date: str
    published: int  # papers in the corpus published that day, before the keyword/author filters
    papers: list[DigestItemOut]


class FetchOut(BaseModel):
    feeds: int
    fetched: int
    added: int
    updated: int
    unchanged: int
    errors: list[str]


def cmd_digest(args: argparse.Namespace, ctx: Context) -> int:
    import datetime as dt

    from retrieval.answers.digest import build_digest, select_papers

    try:
        day = dt.date.fromisoformat(args.date) if args.date else dt.datetime.now(dt.UTC).date()
    except ValueError:
        raise UserError(f"--date {cut(args.date)!r}: expected YYYY-MM-DD", EXIT_USAGE) from None
    papers = ctx.store.published_on(day)
    keywords = [k.strip() for k in (args.keywords or "").split(",") if k.strip()]
    authors = [a.strip() for a in (args.authors or "").split(",") if a.strip()]
    digest = build_digest(day, select_papers(papers, ctx.index, keywords, authors), ctx.index)
    out = DigestOut(
        date=day.isoformat(),
        published=len(papers),
        papers=[DigestItemOut(**item.model_dump()) for item in digest.papers],
    )

    def text() -> str:
        if not papers:
            return f"No papers published on {day} in the corpus."
        if not out.papers:
            wanted = " or ".join(
                [f"keywords {cut(', '.join(keywords))!r}"] * bool(keywords)
                + [f"authors {cut(', '.join(authors))!r}"] * bool(authors)
            )
            count = f"{len(papers)} paper{'s' * (len(papers) != 1)}"
            return f"{count} published on {day}, none matched {wanted}."
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

    from bot.settings import check_feed
    from corpus.feeds import FeedSource, FetchResult, fetch_all

    settings = _settings()
    try:
        specs = [check_feed(spec) for spec in args.feeds] if args.feeds else settings.feeds
    except ValueError as exc:
        raise UserError(f"--feed {exc}", EXIT_USAGE) from None
    if not specs:
        raise UserError(
            "no feeds configured: set PAPERBOT_FEEDS (e.g. cs.LG,search:abs:DeepMind) or pass --feed", EXIT_USAGE
        )
    result = FetchResult()
    with _quiet_feed_log():  # the CLI prints each failure once, below; the log would repeat it
        for number, spec in enumerate(specs):  # one at a time, so that a slow one is named while it is awaited
            if number and settings.fetch_delay:
                time.sleep(settings.fetch_delay)  # arXiv's spacing between requests, as fetch_all keeps it
            source = FeedSource(spec=spec)
            host = urllib.parse.urlparse(source.url).hostname or source.url
            with waits.announced(f"{host} to answer the feed {spec}"):
                part = asyncio.run(fetch_all([source], delay=settings.fetch_delay))
            result.papers += part.papers
            result.errors += part.errors
    report = ctx.store.ingest(result.papers)
    ctx.sync_index()
    out = FetchOut(
        feeds=len(specs),
        fetched=len(result.papers),
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        errors=[cut(e, 300) for e in result.errors],
    )
    for error in out.errors:
        print(f"paperbot: {error}", file=sys.stderr)
    emit(
        args,
        out,
        lambda: (
            f"fetched {out.fetched} papers from {out.feeds} feeds: {out.added} added, {out.updated} updated,"
            f" {out.unchanged} unchanged; {len(out.errors)} feeds failed"
        ),
    )
    return 1 if result.errors and not result.papers else 0


@contextlib.contextmanager
def _quiet_feed_log() -> Iterator[None]:
    """Keep corpus.feeds' warnings (meant for the bot's log) off the terminal while the CLI reports them."""
    logger = logging.getLogger("corpus.feeds")
    saved = logger.propagate
    handler = logging.NullHandler()
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = saved


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
        "--feed",
        dest="feeds",
        action="append",
        metavar="FEED",
        help="a feed: a category (cs.LG), search:QUERY or an http(s) URL; repeatable (default: $PAPERBOT_FEEDS)",
    )
    fetch.set_defaults(handler=cmd_fetch)
