"""`ingest` and `corpus`: putting papers into the store and saying what it holds."""

from __future__ import annotations

import argparse
import sys
import time

from pydantic import BaseModel

from bot.cli.common import Context, emit
from corpus.loaders import LoadError, load_path
from corpus.store import IngestReport


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


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ingest = commands.add_parser(
        "ingest", parents=[common], help="add papers from seed text, JSON Lines or arXiv Atom/RSS files"
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.set_defaults(handler=cmd_ingest)

    corpus = commands.add_parser("corpus", parents=[common], help="what the corpus holds")
    corpus.set_defaults(handler=cmd_corpus)
