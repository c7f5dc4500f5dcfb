"""Input formats, one module each; `records(path)` picks the format and streams records from a file.

- seed: the seed text format of ../shared/seeds
- jsonl: JSON Lines (arXiv's metadata snapshot, SciFact, SciTLDR, your own records)
- feeds: arXiv API Atom responses and RSS listings, old (RSS 1.0) and new (RSS 2.0)
- oaipmh: OAI-PMH ListRecords/GetRecord responses in arXiv's `arXiv` and `arXivRaw` formats

Plain files and .gz, .bz2, .xz and .zip are read directly and as streams (JSON Lines and
OAI-PMH never hold the whole file in memory; feeds and seed files are small by nature).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from corpus.formats.common import LoadError, ReadProgress, inner_name, is_supported, open_members, peek
from corpus.formats.feeds import feed_records
from corpus.formats.jsonl import jsonl_records
from corpus.formats.oaipmh import NotRecords, OaiError, oai_records
from corpus.formats.seed import metadata_for, seed_records
from corpus.models import Problem, RawRecord

__all__ = [
    "LoadError",
    "Problem",
    "RawRecord",
    "ReadProgress",
    "records",
    "supported_files",
    "unsupported_files",
    "is_supported",
]


def supported_files(folder: Path) -> list[Path]:
    """Every file in the folder (and below) that `records` can read, in name order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_supported(p) and p.name != "metadata.jsonl")


def unsupported_files(folder: Path) -> list[tuple[Path, str]]:
    """Every other file in the folder (and below), with why `supported_files` leaves it out, in name order."""
    left: list[tuple[Path, str]] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name == "metadata.jsonl":
            left.append((path, "the seed format's metadata: read with the .txt files beside it"))
        elif path.name.startswith("."):
            left.append((path, "a hidden file"))
        elif not is_supported(path):
            kind = Path(inner_name(path.name)).suffix or "no extension"
            left.append((path, f"not a format paperbot reads ({kind})"))
    return left


def records(path: Path, progress: ReadProgress | None = None) -> Iterator[RawRecord | Problem]:
    """Stream the file's records; LoadError for a file that is unreadable or not of a known format.

    `progress`, when given, tells how far into the file the records read so far reach.
    """
    if not path.exists():
        raise LoadError(path, [Problem("", "file", "no such file")])
    with open_members(path, progress) as members:
        for name, stream in members:
            yield from _member_records(path, name, stream)


def _member_records(path: Path, name: str, stream) -> Iterator[RawRecord | Problem]:
    head, stream = peek(stream)
    if not head.strip():
        raise LoadError(name, [Problem("", "file", "the file is empty: expected at least one record")])
    text_head = head.decode("utf-8-sig", "replace").lstrip().lower()
    suffix = Path(inner_name(Path(name).name)).suffix.lower()
    source = Path(inner_name(Path(name).name)).name
    if "<oai-pmh" in text_head[:1500]:
        try:
            yield from oai_records(stream, source)
        except NotRecords as exc:
            raise LoadError(name, [Problem("", "oai-pmh", str(exc))]) from None
        except OaiError as exc:
            message = f"{str(exc).rstrip('. ')}: the response holds no records"
            raise LoadError(name, [Problem("", "oai-pmh", message)]) from None
        return
    first_line = text_head.split("\n", 1)[0].strip()
    if first_line.startswith("[") and not first_line.endswith("]"):  # one line for the file, not one per line
        message = (
            "this is one JSON array, not JSON Lines (one JSON object per line): put each record on its own line,"
            f" e.g. jq -c '.[]' {source} > {Path(source).stem}.jsonl"
        )
        raise LoadError(name, [Problem("", "json", message)])
    if first_line == "{":
        message = (
            "this is JSON spread over many lines (pretty-printed), not JSON Lines (one JSON object per line):"
            f" e.g. jq -c '.' {source} > {Path(source).stem}.jsonl"
        )
        raise LoadError(name, [Problem("", "json", message)])
    if text_head.startswith("{") or (suffix in {".jsonl", ".ndjson", ".json"} and not text_head.startswith("<")):
        yield from jsonl_records(stream, source)
        return
    text = _read_text(stream, name)
    if text_head.startswith("<") or suffix in {".xml", ".atom", ".rss", ".rdf"}:
        try:
            yield from feed_records(text, source)
        except LoadError as exc:  # named as the user gave it, like every other rejected file
            raise LoadError(name, exc.problems) from None
        return
    yield from seed_records(text, Path(inner_name(str(path))) if name == str(path) else Path(name), metadata_for(path))


def _read_text(stream, name: str) -> str:
    data = stream.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise LoadError(
            name,
            [Problem(str(line), "encoding", f"byte 0x{data[exc.start]:02x} is not UTF-8; re-save the file as UTF-8")],
        ) from None
