"""Turn files into `Paper` records, or fail with errors that point at the line to fix.

The formats live in `corpus.formats` (one module each); this module keeps the entry points
the rest of paperbot calls. `load_path` reads a whole file into a list (for small inputs:
the bundled seeds, a feed, tests); `paperbot ingest` streams instead, through
`corpus.formats.records` and `Store.ingest`, so memory stays flat whatever the file size.
Either way a bad record rejects its file whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from corpus.formats import records, supported_files
from corpus.formats.common import MAX_ERRORS_SHOWN, LoadError
from corpus.formats.feeds import feed_records
from corpus.formats.jsonl import jsonl_records
from corpus.formats.seed import SeedMetadata, load_seed_metadata, metadata_for, seed_records
from corpus.models import Paper, Problem, RawRecord, RecordError, merge

__all__ = [
    "MAX_ERRORS_SHOWN",
    "LoadError",
    "Problem",
    "SeedMetadata",
    "collect",
    "load_feed",
    "load_path",
    "load_seed_dir",
    "load_seed_metadata",
    "load_seed_text",
    "read_text",
]


def read_text(path: Path) -> str:
    """The file as text, or a LoadError naming the line of the first byte that is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(path, [Problem("", "file", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise LoadError(
            path,
            [Problem(str(line), "encoding", f"byte 0x{data[exc.start]:02x} is not UTF-8; re-save the file as UTF-8")],
        ) from None
    if not text.strip():
        raise LoadError(path, [Problem("", "file", "the file is empty: expected at least one record")])
    return text


def collect(path: Path | str, items: Iterable[RawRecord | Problem], *, allow_empty: bool = False) -> list[Paper]:
    """Build every record, gathering all problems so the user fixes them in one pass; duplicates merged."""
    papers: dict[str, Paper] = {}
    problems: list[Problem] = []
    for item in items:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        try:
            paper = item.build()
        except RecordError as exc:
            problems.extend(exc.problems)
            continue
        papers[paper.id] = merge(papers[paper.id], paper) if paper.id in papers else paper
    if problems:
        raise LoadError(path, problems)
    if not papers and not allow_empty:
        raise LoadError(path, [Problem("", "file", "no records found")])
    return list(papers.values())


def load_path(path: Path | str) -> list[Paper]:
    """Load any supported file, or every supported file in a folder, choosing each format from name and content."""
    path = Path(path)
    if path.is_dir():
        files = supported_files(path)
        if not files:
            raise LoadError(
                path, [Problem("", "file", "no supported files in this folder (.jsonl, .xml, .rss, .txt, .gz ...)")]
            )
        merged: dict[str, Paper] = {}
        for file in files:
            for paper in load_path(file):
                merged[paper.id] = merge(merged[paper.id], paper) if paper.id in merged else paper
        return list(merged.values())
    return collect(path, records(path), allow_empty=_is_feed(path))


def _is_feed(path: Path) -> bool:
    """A valid feed with no entries is a quiet day, not an error; any other empty input is."""
    return path.suffix.lower() in {".xml", ".atom", ".rss", ".rdf"}


def load_seed_dir(folder: Path) -> list[Paper]:
    """A folder of seed .txt files, with metadata.jsonl when present; one record per paper."""
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise LoadError(folder, [Problem("", "file", "no .txt seed files in this folder")])
    metadata = metadata_for(files[0])
    merged: dict[str, Paper] = {}
    for file in files:
        for paper in collect(file, seed_records(read_text(file), file, metadata)):
            merged[paper.id] = merge(merged[paper.id], paper) if paper.id in merged else paper
    return list(merged.values())


def load_seed_text(text: str, path: Path, metadata: list[SeedMetadata] | None = None) -> list[Paper]:
    return collect(path, seed_records(text, path, metadata or []))


def load_jsonl(text: str, path: Path) -> list[Paper]:
    import io

    return collect(path, jsonl_records(io.BytesIO(text.encode("utf-8")), path.name))


def load_feed(text: str, path: Path | str) -> list[Paper]:
    """arXiv API Atom responses and arXiv RSS listings (old and new); [] for a valid feed with no entries."""
    return collect(path, feed_records(text, Path(str(path)).name), allow_empty=True)
