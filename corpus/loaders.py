"""Turn files into `Paper` records, or fail with errors that point at the line to fix.

Three sources: the seed text format (../shared/seeds), JSON Lines (arXiv metadata
snapshots and generic records such as SciFact and SciTLDR), and arXiv Atom/RSS feeds.
A loader reads a whole file before returning, so a bad record rejects the file whole
and nothing from it reaches the store.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
import xml.sax
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import feedparser
from pydantic import ValidationError

from corpus.models import InvalidId, Paper, normalise_id
from corpus.text import clean_abstract, collapse_whitespace

MAX_ERRORS_SHOWN = 20


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located by line (or feed entry) and field."""

    where: str  # "12" for a line, "entry 3" for a feed entry, "" for the whole file
    field: str
    message: str


class LoadError(Exception):
    """A file that cannot be loaded; str() gives one `file:line: field: problem` per line."""

    def __init__(self, path: Path | str, problems: list[Problem]):
        self.path = str(path)
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = []
        for problem in self.problems[:MAX_ERRORS_SHOWN]:
            location = f"{self.path}:{problem.where}" if problem.where else self.path
            lines.append(f"{location}: {problem.field}: {problem.message}")
        if len(self.problems) > MAX_ERRORS_SHOWN:
            lines.append(f"{self.path}: ... and {len(self.problems) - MAX_ERRORS_SHOWN} more problems")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- reading


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


def load_path(path: Path | str) -> list[Paper]:
    """Load any supported file (or a seed folder), choosing the format from name and content."""
    path = Path(path)
    if path.is_dir():
        return load_seed_dir(path)
    if not path.exists():
        raise LoadError(path, [Problem("", "file", "no such file")])
    text = read_text(path)
    head = text.lstrip()[:200].lower()
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"} or head.startswith("{"):
        return load_jsonl(text, path)
    if suffix in {".xml", ".atom", ".rss"} or head.startswith("<"):
        return load_feed(text, path)
    return load_seed_text(text, path)


def _validate(fields: dict, path: Path, where: str) -> Paper:
    try:
        return Paper(**fields)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "record"
            message = error["msg"].removeprefix("Value error, ")
            value = error.get("input")
            if field != "record" and not isinstance(value, dict):
                message += f" (got {_short(value)})"
            problems.append(Problem(where, field, message))
        raise LoadError(path, problems) from None


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _collect(path: Path, items: Iterable[tuple[str, dict | Problem]]) -> list[Paper]:
    """Validate every record, gathering all problems so the user fixes them in one pass."""
    papers: list[Paper] = []
    problems: list[Problem] = []
    for where, fields in items:
        if isinstance(fields, Problem):
            problems.append(fields)
            continue
        try:
            papers.append(_validate(fields, path, where))
        except LoadError as exc:
            problems.extend(exc.problems)
    if problems:
        raise LoadError(path, problems)
    if not papers:
        raise LoadError(path, [Problem("", "file", "no records found")])
    return papers


# ---------------------------------------------------------------------------- seed text

_ARXIV_LINE = re.compile(r"^arXiv:\s*(\S+)\s*$")
_CREATED_LINE = re.compile(r"^Created:\s*(\S+)\s*$")
_ABSTRACT_LINE = re.compile(r"^Abstract:\s*(.*)$")


@dataclass(frozen=True)
class SeedMetadata:
    """A line of the seeds' metadata.jsonl: fills in id, title and date for bare abstracts."""

    arxiv_id: str
    title: str
    published: str
    abstract_starts_with: str


def load_seed_metadata(path: Path) -> list[SeedMetadata]:
    text = read_text(path)
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            rows.append(SeedMetadata(**{k: record[k] for k in SeedMetadata.__dataclass_fields__}))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise LoadError(path, [Problem(str(number), "metadata", f"bad metadata record: {exc}")]) from None
    return rows


def _match_metadata(abstract: str, metadata: list[SeedMetadata]) -> SeedMetadata | None:
    for row in metadata:
        if abstract.startswith(row.abstract_starts_with):
            return row
    return None


def load_seed_text(text: str, path: Path, metadata: list[SeedMetadata] | None = None) -> list[Paper]:
    """Both seed styles: `Abstract:` lines, and blank-line separated records ending in arXiv/Created lines."""
    metadata = metadata or []
    lines = text.splitlines()
    if any(_ABSTRACT_LINE.match(line) for line in lines):
        items = _abstract_line_records(lines, path, metadata)
    else:
        items = _block_records(lines, metadata)
    return _collect(path, items)


def _abstract_line_records(lines: list[str], path: Path, metadata: list[SeedMetadata]):
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = _ABSTRACT_LINE.match(line)
        if not match:
            yield str(number), Problem(str(number), "abstract", "expected a line starting with 'Abstract:'")
            continue
        abstract = clean_abstract(match.group(1))
        fields: dict = {"abstract": abstract, "source": path.name}
        meta = _match_metadata(abstract, metadata)
        if meta:
            fields.update(id=meta.arxiv_id, title=meta.title, published=meta.published)
        else:
            fields["id"] = f"{path.stem}-{number}"
        yield str(number), fields


def _block_records(lines: list[str], metadata: list[SeedMetadata]):
    """Records are paragraphs up to an `arXiv:` line and an optional `Created:` line."""
    paragraphs: list[tuple[int, list[str]]] = []  # (first line number, lines)
    current: list[str] = []
    start = 0
    record_start = 1
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index]
        arxiv = _ARXIV_LINE.match(line.strip())
        if arxiv:
            if current:
                paragraphs.append((start, current))
                current = []
            created = None
            if index + 1 < len(lines) and _CREATED_LINE.match(lines[index + 1].strip()):
                created = _CREATED_LINE.match(lines[index + 1].strip()).group(1)
                index += 1
            yield str(record_start), _block_fields(paragraphs, arxiv.group(1), created, metadata, record_start)
            paragraphs = []
            record_start = index + 2
        elif line.strip():
            if not current:
                start = number
            current.append(line.strip())
        elif current:
            paragraphs.append((start, current))
            current = []
        index += 1
    if current or paragraphs:
        first = paragraphs[0][0] if paragraphs else start
        yield str(first), Problem(str(first), "id", "record has no 'arXiv:' line after its abstract")


def _block_fields(paragraphs, arxiv_id, created, metadata, record_start) -> dict | Problem:
    if not paragraphs:
        return Problem(str(record_start), "abstract", "missing: no abstract paragraph before the 'arXiv:' line")
    fields: dict = {"id": arxiv_id, "source": "seed"}
    body = [lines for _, lines in paragraphs]
    if len(body[0]) >= 2 and len(body) >= 2:  # "Title\nAuthor, Author" heading paragraph
        heading = body.pop(0)
        fields["title"] = heading[0]
        fields["authors"] = [a.strip() for a in " ".join(heading[1:]).split(",") if a.strip()]
    fields["abstract"] = clean_abstract(" ".join(body[0]))
    if len(body) > 1:
        fields["comment"] = " ".join(" ".join(p) for p in body[1:])
    if created:
        fields["published"] = created
    try:
        canonical, _ = normalise_id(arxiv_id)
    except InvalidId:
        return fields  # the model reports the bad id with its line
    for row in metadata:
        if row.arxiv_id == canonical:
            fields.setdefault("title", row.title)
            fields.setdefault("published", row.published)
    return fields


def load_seed_dir(folder: Path) -> list[Paper]:
    """A folder of seed .txt files, with metadata.jsonl when present; one record per paper."""
    meta_path = folder / "metadata.jsonl"
    metadata = load_seed_metadata(meta_path) if meta_path.exists() else []
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise LoadError(folder, [Problem("", "file", "no .txt seed files in this folder")])
    merged: dict[str, Paper] = {}
    for file in files:
        for paper in load_seed_text(read_text(file), file, metadata):
            merged[paper.id] = _merge(merged[paper.id], paper) if paper.id in merged else paper
    return list(merged.values())


def _merge(first: Paper, second: Paper) -> Paper:
    """Same paper from two seed files: keep every field that either one has."""
    fields = first.model_dump()
    for name, value in second.model_dump().items():
        if not fields.get(name) and value:
            fields[name] = value
    return Paper(**fields)


# ---------------------------------------------------------------------------- JSON Lines

_ID_KEYS = ("id", "doc_id", "_id", "paper_id", "arxiv_id")


def load_jsonl(text: str, path: Path) -> list[Paper]:
    return _collect(path, _jsonl_records(text, path))


def _jsonl_records(text: str, path: Path):
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = str(number)
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            hint = " (the line is cut short?)" if "Unterminated" in exc.msg or "Expecting" in exc.msg else ""
            yield where, Problem(where, "json", f"invalid JSON at column {exc.colno}: {exc.msg}{hint}")
            continue
        if not isinstance(record, dict):
            yield where, Problem(where, "record", f"expected a JSON object, got {type(record).__name__}")
            continue
        yield where, _record_fields(record, path, where)


def _record_fields(record: dict, path: Path, where: str) -> dict | Problem:
    id_key = next((key for key in _ID_KEYS if record.get(key) not in (None, "")), None)
    if id_key is None:
        return Problem(where, "id", "missing: give one of " + ", ".join(_ID_KEYS))
    fields: dict = {"id": str(record[id_key]), "source": path.name, "title": record.get("title") or ""}

    sentences = record.get("sentences")
    if sentences is None and isinstance(record.get("source"), list):
        sentences = record["source"]  # SciTLDR keeps the abstract's sentences under "source"
    if sentences is not None:
        if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
            return Problem(where, "sentences", "must be a list of strings")
        sentences = [s for s in sentences if s.strip()]
        fields["sentences"] = sentences
        fields["abstract"] = " ".join(sentences)
    else:
        abstract = record.get("abstract", record.get("text"))
        if not isinstance(abstract, str) or not abstract.strip():
            return Problem(where, "abstract", "missing or empty: give abstract, text or sentences")
        fields["abstract"] = clean_abstract(abstract)

    authors = record.get("authors")
    if isinstance(authors, str):
        authors = _split_authors(authors)
    elif isinstance(record.get("authors_parsed"), list) and not authors:
        authors = [" ".join(p for p in reversed(parts[:2]) if p) for parts in record["authors_parsed"]]
    if authors:
        fields["authors"] = authors

    categories = record.get("categories")
    if isinstance(categories, str):
        categories = categories.split()
    if categories:
        fields["categories"] = categories

    versions = record.get("versions")
    if isinstance(versions, list) and versions:  # arXiv metadata snapshot
        fields["version"] = max(_version_number(v) for v in versions)
        first = _rfc2822_date(versions[0].get("created")) if isinstance(versions[0], dict) else None
        if first:
            fields["published"] = first
    for key in ("published", "date"):
        if record.get(key) and "published" not in fields:
            fields["published"] = str(record[key])[:10]
    if record.get("update_date") or record.get("updated"):
        fields["updated"] = str(record.get("update_date") or record.get("updated"))[:10]
    for key in ("comment", "comments"):
        if record.get(key):
            fields["comment"] = str(record[key])
    if record.get("url"):
        fields["url"] = str(record["url"])
    return fields


def _split_authors(text: str) -> list[str]:
    text = collapse_whitespace(text.replace("\n", " "))
    return [a.strip() for a in re.split(r",\s*|\s+and\s+", text) if a.strip()]


def _version_number(version: object) -> int:
    label = version.get("version", "v1") if isinstance(version, dict) else str(version)
    digits = re.sub(r"\D", "", str(label))
    return int(digits) if digits else 1


def _rfc2822_date(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return email.utils.parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------- feeds

_RSS_PREAMBLE = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*[\w-]+\s*Abstract:\s*", re.IGNORECASE)


def load_feed(text: str, path: Path | str) -> list[Paper]:
    """arXiv API Atom responses and arXiv RSS/Atom listings, parsed by feedparser."""
    parsed = feedparser.parse(text)
    exc = parsed.get("bozo_exception")
    if parsed.bozo and (isinstance(exc, xml.sax.SAXParseException) or not parsed.entries):
        line = exc.getLineNumber() if hasattr(exc, "getLineNumber") else ""
        raise LoadError(path, [Problem(str(line), "xml", f"malformed feed: {exc}")])
    for entry in parsed.entries:
        if "api/errors" in entry.get("id", ""):
            raise LoadError(path, [Problem("", "feed", f"arXiv API error: {entry.get('summary', '')}")])
    if not parsed.entries:
        return []
    items = ((f"entry {i}", _entry_fields(entry, path)) for i, entry in enumerate(parsed.entries, 1))
    return _collect(Path(str(path)), items)


def _entry_fields(entry, path) -> dict | Problem:
    raw_id = entry.get("id") or entry.get("link") or ""
    summary = entry.get("summary", "")
    summary = _RSS_PREAMBLE.sub("", summary)
    fields: dict = {
        "id": raw_id.replace("oai:arXiv.org:", ""),
        "title": entry.get("title", ""),
        "abstract": clean_abstract(re.sub(r"<[^>]+>", " ", summary)),
        "source": Path(str(path)).name,
    }
    if not fields["abstract"]:
        return Problem("", "abstract", f"missing in feed entry {raw_id!r}")
    authors = [a.get("name", "") for a in entry.get("authors", []) if a.get("name")]
    if len(authors) == 1 and "," in authors[0]:  # RSS puts all authors in one dc:creator
        authors = _split_authors(authors[0])
    fields["authors"] = authors
    fields["categories"] = [t.get("term") for t in entry.get("tags", []) if t.get("term")]
    for key in ("published", "updated"):
        struct = entry.get(f"{key}_parsed")
        if struct:
            fields[key] = dt.date(struct.tm_year, struct.tm_mon, struct.tm_mday)
    if "published" not in fields and "updated" in fields:
        fields["published"] = fields["updated"]
    if entry.get("arxiv_comment"):
        fields["comment"] = entry["arxiv_comment"]
    return fields
