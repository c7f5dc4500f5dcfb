"""`ingest` and `corpus`: putting papers into the store and saying what it holds."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel
from tqdm import tqdm

from bot.cli import interrupt
from bot.cli.common import Context, emit
from bot.cli.vectors import VectorCoverage, coverage, coverage_line
from corpus.formats import ReadProgress, records, supported_files, unsupported_files
from corpus.loaders import LoadError, Problem
from corpus.store import CorpusStats, IngestReport, RecordsRejected


class FileReport(BaseModel):
    path: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # 1 when the file was rejected whole
    skipped: int = 0  # bad records left out under --skip-bad
    errors: list[str] = []


class IgnoredFile(BaseModel):
    path: str
    why: str


class IngestOut(BaseModel):
    files: list[FileReport]
    added: int
    updated: int
    unchanged: int
    rejected: int
    skipped: int  # bad records left out under --skip-bad
    ignored: list[IgnoredFile] = []  # files in the folders given that were not read, and why
    papers: int


def _expand(raw_paths: list[str], ignored: list[IgnoredFile]) -> Iterator[tuple[str, Path | None, LoadError | None]]:
    """Each file to ingest: a folder stands for every supported file in it (and below); the others go to `ignored`."""
    for raw in raw_paths:
        path = Path(raw)
        if path.is_dir():
            files = supported_files(path)
            ignored += [IgnoredFile(path=str(file), why=why) for file, why in unsupported_files(path)]
            if not files:
                message = "no supported files in this folder (.jsonl, .json, .xml, .rss, .atom, .txt, or those .gz/.bz2/.xz/.zip)"
                yield raw, None, LoadError(raw, [Problem("", "folder", message)])
            for file in files:
                yield str(file), file, None
        else:
            yield raw, path, None


class _Done:
    """What an ingest has done so far, for the line an interrupt prints (bot/cli/interrupt.py)."""

    def __init__(self) -> None:
        self.stored: list[FileReport] = []
        self.current: str | None = None
        self.read = 0  # records read from the current file
        self.finished_reading = False
        self.position = ReadProgress()

    def count(self, items: Iterable) -> Iterator:
        for item in items:
            self.read += 1
            if not self.read % 1024:
                _ = self.position.fraction  # remembered, for when the file is closed
            yield item
        self.finished_reading = True

    def start(self, display: str) -> ReadProgress:
        self.current, self.read, self.finished_reading, self.position = display, 0, False, ReadProgress()
        return self.position

    def note(self) -> str:
        added = sum(r.added for r in self.stored)
        updated = sum(r.updated for r in self.stored)
        before = (
            f"{_files(len(self.stored))} stored before it ({added:,} added, {updated:,} updated)"
            if self.stored
            else "no file was stored before it"
        )
        if self.current is None:  # every file stored: stopped while the index caught up
            return (
                f"every file is stored ({_files(len(self.stored))}, {added:,} added, {updated:,} updated); the search"
                " index catches up at the next command"
            )
        if self.finished_reading:
            where = f"all {self.read:,} records of {self.current} read, not yet stored"
        else:
            fraction = self.position.fraction
            estimate = int(self.read / fraction) if fraction else 0
            estimate = round(estimate, 2 - len(str(estimate)))  # two significant digits: 303,417 is about 300,000
            total = f" of about {estimate:,}" if estimate > self.read else ""
            share = f" ({fraction:.0%} of the file)" if fraction else ""
            where = f"{self.read:,}{total} records of {self.current} read{share}, none stored"
        return (
            f"{where} (a file is stored whole); {before}."
            " Run the same command to continue: stored files are skipped as unchanged"
        )


def _files(count: int) -> str:
    return f"{count} file{'s' * (count != 1)}"


def _progress(items: Iterable, label: str) -> Iterable:
    """A record counter on a terminal (tqdm turns itself off when stderr is not one: logs and pipes stay clean)."""
    return tqdm(items, desc=label, unit=" records", disable=None, file=sys.stderr, mininterval=0.5, leave=False)


def cmd_ingest(args: argparse.Namespace, ctx: Context) -> int:
    done = _Done()
    with interrupt.progress(done.note):
        return _ingest(args, ctx, done)


def _ingest(args: argparse.Namespace, ctx: Context, done: _Done) -> int:
    started = time.perf_counter()
    reports: list[FileReport] = []
    ignored: list[IgnoredFile] = []
    has_good_records: set[int] = set()  # rejected for some bad records, so --skip-bad would store the rest
    for display, path, error in _expand(args.paths, ignored):
        if error is not None:
            reports.append(FileReport(path=display, rejected=1, errors=error.render().splitlines()))
            continue
        position = done.start(display)
        try:
            report: IngestReport = ctx.store.ingest(
                _progress(done.count(records(path, position)), path.name),
                skip_bad=args.skip_bad,
                workers=min(2, os.cpu_count() or 1),
            )
        except LoadError as exc:
            reports.append(FileReport(path=display, rejected=1, errors=exc.render().splitlines()))
            continue
        except RecordsRejected as exc:
            rendered = LoadError(display, exc.problems).render().splitlines()
            reports.append(FileReport(path=display, rejected=1, errors=rendered))
            has_good_records.add(len(reports) - 1)
            continue
        skipped = [f"{display}:{p.where}: {p.field}: {p.message} (skipped)" for p in report.problems]
        reports.append(
            FileReport(
                path=display,
                added=report.added,
                updated=report.updated,
                unchanged=report.unchanged,
                skipped=report.rejected,
                errors=skipped,
            )
        )
        done.stored.append(reports[-1])
    done.current = None
    if any(r.added or r.updated for r in reports):
        ctx.sync_index()  # now, so the next command starts at once
    out = IngestOut(
        files=reports,
        added=sum(r.added for r in reports),
        updated=sum(r.updated for r in reports),
        unchanged=sum(r.unchanged for r in reports),
        rejected=sum(r.rejected for r in reports),
        skipped=sum(r.skipped for r in reports),
        ignored=ignored,
        papers=len(ctx.store),
    )
    for report in reports:
        for line in report.errors:
            print(line, file=sys.stderr)
    for file in ignored:
        print(f"{file.path}: ignored: {file.why}", file=sys.stderr)

    def text() -> str:
        lines = []
        for number, r in enumerate(reports):
            if r.rejected and number in has_good_records:
                status = "rejected (nothing stored; fix the lines above, or --skip-bad to store the good records)"
            elif r.rejected:  # not a readable file of records at all: --skip-bad has nothing to keep
                status = "rejected (nothing stored: see the line above)"
            else:
                status = f"{r.added} added, {r.updated} updated, {r.unchanged} unchanged"
                if r.skipped:
                    status += f", {r.skipped} bad records skipped"
            lines.append(f"{r.path}: {status}")
        total = f"total: {out.added} added, {out.updated} updated, {out.unchanged} unchanged, {out.rejected} rejected"
        if out.skipped:
            total += f", {out.skipped} skipped"
        if out.ignored:
            total += f", {_files(len(out.ignored))} ignored (not records: see the lines above)"
        lines.append(f"{total}; {out.papers} papers in the corpus ({time.perf_counter() - started:.1f} s)")
        return "\n".join(lines)

    emit(args, out, text)
    return 1 if out.rejected else 0


BUNDLED_SOURCES = {"seed", "000_a66cf86bf03b87ab.txt", "003_92396caf92415d76.txt"}


def describe_source(source: str) -> str:
    """Where papers came from, in words: the bundled set, an arXiv listing or search, a harvest, or a file."""
    if source in BUNDLED_SOURCES:
        return "bundled with paperbot"
    for prefix, words in (
        ("arXiv listing ", "arXiv's daily listing for "),
        ("arXiv search ", "the arXiv search "),
        ("arXiv harvest ", "harvested from arXiv, "),
    ):
        if source.startswith(prefix):
            return words + source.removeprefix(prefix)
    return f"the file {source}" if source else "an unnamed source"


class CorpusOut(CorpusStats):
    vectors: VectorCoverage  # papers with a vector for the semantic stage's model, or why the stage is off


def cmd_corpus(args: argparse.Namespace, ctx: Context) -> int:
    stats = CorpusOut(**ctx.store.stats().model_dump(), vectors=coverage(ctx))
    ctx.sync_index()  # so a fresh home is searchable, and `paperbot check` finds a fresh index

    def text() -> str:
        span = f"published {stats.earliest} to {stats.latest}" if stats.earliest else "no publication dates"
        described: dict[str, dict[str, int]] = {}  # in words, then each source as --json names it
        for name, count in stats.sources.items():
            described.setdefault(describe_source(name), {})[name] = count
        lines = [f"{stats.papers} papers, {span}", "where they came from (the last source that changed each):"]
        for words, names in sorted(described.items(), key=lambda kv: -sum(kv[1].values())):
            # the sources by the names --json gives them, so that text and JSON say the same
            parts = ", ".join(f"{name}: {count}" for name, count in sorted(names.items(), key=lambda kv: -kv[1]))
            lines.append(f"  {sum(names.values()):>8}  {words} ({parts})")
        lines.append(coverage_line(stats.vectors, ctx.home))
        lines.append(f"home: {ctx.home}")
        return "\n".join(lines)

    emit(args, stats, text)
    return 0


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ingest = commands.add_parser(
        "ingest",
        parents=[common],
        help="add papers from files or folders: JSON Lines (arXiv snapshot ...), arXiv Atom/RSS, OAI-PMH XML, seed text;"
        " .gz/.bz2/.xz/.zip read directly",
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="a file, or a folder: every supported file in it")
    ingest.add_argument(
        "--skip-bad",
        action="store_true",
        help="store a file's good records and list the bad ones (default: a bad record rejects its whole file)",
    )
    ingest.set_defaults(handler=cmd_ingest)

    corpus = commands.add_parser("corpus", parents=[common], help="what the corpus holds")
    corpus.set_defaults(handler=cmd_corpus)
