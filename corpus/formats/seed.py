"""The seed text format (../shared/seeds): `Abstract:` lines, or paragraphs ending in `arXiv:`/`Created:` lines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from corpus.formats.common import LoadError, validate
from corpus.models import InvalidId, Problem, RawRecord, normalise_id
from corpus.text import clean_abstract, clean_title

_ARXIV_LINE = re.compile(r"^arXiv:\s*(\S+)\s*$")
_CREATED_LINE = re.compile(r"^Created:\s*(\S+)\s*$")
_ABSTRACT_LINE = re.compile(r"^Abstract:\s*(.*)$")
BUNDLED_METADATA = Path(__file__).resolve().parent.parent / "bundled" / "metadata.jsonl"


@dataclass(frozen=True)
class SeedMetadata:
    """A line of the seeds' metadata.jsonl: fills in id, title, date (and authors, when given) for bare abstracts."""

    arxiv_id: str
    title: str
    published: str
    abstract_starts_with: str
    authors: tuple[str, ...] = ()


def load_seed_metadata(path: Path) -> list[SeedMetadata]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(path, [Problem("", "file", f"cannot read: {exc}")]) from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            required = {k: record[k] for k in ("arxiv_id", "title", "published", "abstract_starts_with")}
            rows.append(SeedMetadata(**required, authors=tuple(record.get("authors") or ())))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise LoadError(path, [Problem(str(number), "metadata", f"bad metadata record: {exc}")]) from None
    return rows


def metadata_for(path: Path) -> list[SeedMetadata]:
    """metadata.jsonl beside the file, then the bundled one: a seed file ingested on its own still
    gets its papers' ids, titles and dates, instead of duplicates named after the file."""
    rows: list[SeedMetadata] = []
    seen: set[Path] = set()
    for candidate in (path.parent / "metadata.jsonl", BUNDLED_METADATA):
        if candidate.exists() and candidate.resolve() not in seen:
            seen.add(candidate.resolve())
            rows.extend(load_seed_metadata(candidate))
    return rows


def _match_metadata(abstract: str, metadata: list[SeedMetadata]) -> SeedMetadata | None:
    for row in metadata:
        if abstract.startswith(row.abstract_starts_with):
            return row
    return None


def seed_records(text: str, path: Path, metadata: list[SeedMetadata]) -> Iterator[RawRecord | Problem]:
    """Both seed styles, one record (or problem) at a time."""
    lines = text.splitlines()
    if any(_ABSTRACT_LINE.match(line) for line in lines):
        items = _abstract_line_records(lines, path, metadata)
    else:
        items = _block_records(lines, metadata)
    for where, fields in items:
        if isinstance(fields, Problem):
            yield fields
        else:
            yield RawRecord(where, None, None, lambda fields=fields, where=where: validate(fields, where))


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
            fields.update(id=meta.arxiv_id, title=clean_title(meta.title), published=meta.published)
            if meta.authors:
                fields["authors"] = list(meta.authors)
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
        fields["title"] = clean_title(heading[0])
        fields["authors"] = [clean_title(a) for a in " ".join(heading[1:]).split(",") if a.strip()]
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
            fields.setdefault("title", clean_title(row.title))
            fields.setdefault("published", row.published)
            if row.authors:
                fields.setdefault("authors", list(row.authors))
    return fields
