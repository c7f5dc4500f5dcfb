"""`harvest`: load a backlog from arXiv's OAI-PMH interface; resumable, and fit to run daily."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import urllib.parse

from pydantic import BaseModel
from tqdm import tqdm

from bot.cli.common import Context, UserError, emit
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


def _day(text: str | None, flag: str) -> str | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise UserError(f"{flag} {text!r}: expected a day as YYYY-MM-DD", 2) from None


def cmd_harvest(args: argparse.Namespace, ctx: Context) -> int:
    base_url = args.url or oai_url()
    host = urllib.parse.urlparse(base_url).hostname or ""
    if host.endswith("arxiv.org") and args.delay < MIN_DELAY:
        raise UserError(f"--delay {args.delay}: arXiv asks for at least {MIN_DELAY:.0f} s between requests", 2)
    categories = [c.strip() for c in (args.categories or "").split(",") if c.strip()]
    start, until = _day(args.start, "--from"), _day(args.until, "--until")
    bar = tqdm(desc=f"harvest {args.set}", unit=" records", disable=None, file=sys.stderr, mininterval=0.5)

    def on_page(state: HarvestState, records: int) -> None:
        if state.complete_size and bar.total != state.complete_size:
            bar.total = state.complete_size
            bar.n = state.cursor - records
        bar.update(records)
        bar.set_postfix(kept=state.kept, refresh=False)

    try:
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
    except KeyboardInterrupt:
        bar.close()
        print(
            "paperbot: harvest interrupted; every page before this one is stored. Run the same command to resume.",
            file=sys.stderr,
        )
        return 130
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
    parser.add_argument("--set", default="cs", help="the OAI-PMH set: cs, math, physics:hep-th ... (default: cs)")
    parser.add_argument("--categories", help="keep only these arXiv categories, comma-separated: cs.LG,cs.CL")
    parser.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="records changed on or after this day")
    parser.add_argument("--until", metavar="YYYY-MM-DD", help="records changed on or before this day")
    parser.add_argument("--delay", type=float, default=MIN_DELAY, help="seconds between requests (arXiv asks for 3)")
    parser.add_argument("--max-pages", type=int, default=None, help="stop after this many pages (resume later)")
    parser.add_argument("--url", help="OAI-PMH base URL (default: $PAPERBOT_ARXIV_OAI_URL or arXiv's)")
    parser.set_defaults(handler=cmd_harvest)
