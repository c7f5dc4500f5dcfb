"""`harvest`: load a backlog from arXiv's OAI-PMH interface; resumable, and fit to run daily."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import re
import sys
import urllib.parse

from pydantic import BaseModel
from tqdm import tqdm

from bot.cli import interrupt
from bot.cli.common import EXIT_USAGE, Context, UserError, _settings, cut, emit, int_in
from corpus.feeds import oai_url
from corpus.harvest import MIN_DELAY, HarvestError, HarvestState, harvest


class HarvestOut(BaseModel):
    set: str
    categories: list[str]
    pages: int
    seen: int
    kept: int
    added: int
    updated: int
    unchanged: int
    resumed: bool
    restarted: bool
    done: bool
    papers: int
    state: HarvestState | None


FIRST_DAY = dt.date(1991, 8, 14)  # arXiv's first paper: no record changed before it
MAX_DELAY = 3600.0  # seconds; beyond an hour a page, a harvest would never finish
MAX_PAGES = 1_000_000  # a thousand records a page: far more than arXiv holds
# An OAI-PMH setSpec (the protocol's grammar): cs, math, physics:hep-th
_SET_SPEC = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(?::[A-Za-z0-9\-_.!~*'()]+)*$")
_CATEGORY = re.compile(r"^[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]+(?:-[a-z]+)*)?$")


def _seconds(text: str) -> float:
    """--delay: a finite number of seconds in 0..MAX_DELAY (NaN and inf are floats, not waits)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{cut(text, 40)!r} is not a number of seconds") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_DELAY:
        raise argparse.ArgumentTypeError(f"{cut(text, 40)} is out of range: give 0..{MAX_DELAY:.0f} seconds")
    return value


def _day(text: str) -> dt.date:
    """--from/--until: a real day between arXiv's first paper and tomorrow (a cron ahead of UTC)."""
    try:
        day = dt.date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        day = None
    if day is None:
        raise argparse.ArgumentTypeError(f"{cut(text, 40)!r} is not a day: expected YYYY-MM-DD, e.g. 2024-01-01")
    last = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    if not FIRST_DAY <= day <= last:
        raise argparse.ArgumentTypeError(
            f"{text} is out of range: give a day from {FIRST_DAY} (arXiv's first paper) to {last}"
        )
    return day


def _set_spec(text: str) -> str:
    if not _SET_SPEC.match(text):
        raise argparse.ArgumentTypeError(f"{cut(text, 40)!r} is not an OAI-PMH set: e.g. cs, math, physics:hep-th")
    return text


def _categories(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"{cut(text, 40)!r} names no category: e.g. cs.LG,cs.CL")
    for name in names:
        if not _CATEGORY.match(name):
            raise argparse.ArgumentTypeError(f"{cut(name, 40)!r} is not an arXiv category: e.g. cs.LG, hep-th")
    return names


def _base_url(text: str) -> str:
    parts = urllib.parse.urlparse(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{cut(text, 80)!r} is not an http(s) URL: e.g. https://oaipmh.arxiv.org/oai")
    return text


def check_args(args: argparse.Namespace) -> None:
    """What no single option can check alone, before the home is opened: a bad run stores nothing."""
    _settings()  # the settings (.env included) name the OAI-PMH endpoint; a bad one is one line, as for fetch
    if args.start and args.until and args.until < args.start:
        raise UserError(f"--until {args.until} is before --from {args.start}: nothing would be harvested", EXIT_USAGE)
    if not args.url:
        try:
            _base_url(oai_url())
        except argparse.ArgumentTypeError as exc:
            raise UserError(f"PAPERBOT_ARXIV_OAI_URL: {exc}", EXIT_USAGE) from None
    host = urllib.parse.urlparse(args.url or oai_url()).hostname or ""
    if host.endswith("arxiv.org") and args.delay < MIN_DELAY:
        raise UserError(
            f"--delay {args.delay:g}: arXiv asks for at least {MIN_DELAY:.0f} s between requests", EXIT_USAGE
        )


def cmd_harvest(args: argparse.Namespace, ctx: Context) -> int:
    base_url = args.url or oai_url()
    categories = args.categories or []
    start = args.start.isoformat() if args.start else None
    until = args.until.isoformat() if args.until else None
    bar = tqdm(desc=f"harvest {args.set}", unit=" records", disable=None, file=sys.stderr, mininterval=0.5)
    stored = {"pages": 0, "kept": 0}

    def on_page(state: HarvestState, records: int) -> None:
        stored["pages"] += 1
        stored["kept"] = state.kept
        if state.complete_size and bar.total != state.complete_size:
            bar.total = state.complete_size
            bar.n = state.cursor - records
        bar.update(records)
        bar.set_postfix(kept=state.kept, refresh=False)

    def note() -> str:
        bar.close()
        pages = f"{stored['pages']} page{'s' * (stored['pages'] != 1)}"
        return (
            f"{pages} stored in this run ({stored['kept']:,} papers kept in the set so far); the page being fetched"
            " is fetched again. Run the same command to continue where it stopped"
        )

    try:
        with interrupt.progress(note):
            report = harvest(
                ctx.store,
                set_spec=args.set,
                categories=categories,
                start=start,
                until=until,
                base_url=base_url,
                delay=args.delay,
                max_pages=args.max_pages,
                on_page=on_page,
            )
    except HarvestError as exc:
        bar.close()
        raise UserError(f"harvest stopped: {exc}") from None
    bar.close()
    if report.added or report.updated:
        ctx.sync_index()
    out = HarvestOut(
        set=args.set,
        categories=report.state.categories if report.state else categories,
        pages=report.pages,
        seen=report.seen,
        kept=report.kept,
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        resumed=report.resumed,
        restarted=report.restarted,
        done=report.done,
        papers=len(ctx.store),
        state=report.state,
    )

    def text() -> str:
        how = "resumed; " if out.resumed else ""
        if out.restarted:
            how += "the saved token had expired, so it started over; "
        status = "finished" if out.done else "paused (run the same command to go on)"
        wanted = f" in {', '.join(out.categories)}" if out.categories else ""
        return (
            f"harvest of set {out.set}: {how}{out.pages} pages, {out.seen} records read, {out.kept}{wanted};"
            f" {out.added} added, {out.updated} updated, {out.unchanged} unchanged; {status}\n"
            f"{out.papers} papers in the corpus"
        )

    emit(args, out, text)
    return 0


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "harvest",
        parents=[common],
        help="load a backlog from arXiv's OAI-PMH interface (resumes where it stopped; run it daily to stay complete)",
    )
    parser.add_argument(
        "--set", type=_set_spec, default="cs", help="the OAI-PMH set: cs, math, physics:hep-th ... (default: cs)"
    )
    parser.add_argument(
        "--categories", type=_categories, help="keep only these arXiv categories, comma-separated: cs.LG,cs.CL"
    )
    parser.add_argument(
        "--from", dest="start", type=_day, metavar="YYYY-MM-DD", help="records changed on or after this day"
    )
    parser.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="records changed on or before this day")
    parser.add_argument(
        "--delay",
        type=_seconds,
        default=MIN_DELAY,
        help=f"seconds between requests, 0..{MAX_DELAY:.0f} (arXiv asks for 3)",
    )
    parser.add_argument(
        "--max-pages", type=int_in(1, MAX_PAGES), default=None, help="stop after this many pages (resume later)"
    )
    parser.add_argument("--url", type=_base_url, help="OAI-PMH base URL (default: $PAPERBOT_ARXIV_OAI_URL or arXiv's)")
    parser.set_defaults(handler=cmd_harvest, check_args=check_args)
