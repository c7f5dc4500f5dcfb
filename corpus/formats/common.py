"""What every input format shares: errors that point at a line, validation, opening compressed files."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from pydantic import ValidationError

from corpus.models import Paper, Problem, RecordError
from corpus.text import clean_title, collapse_whitespace, unescape_fully

MAX_ERRORS_SHOWN = 20
COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
DATA_SUFFIXES = {".jsonl", ".ndjson", ".json", ".xml", ".atom", ".rss", ".rdf", ".txt"}


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


def validate(fields: dict, where: str) -> Paper:
    """A Paper, or RecordError naming each bad field with the value it got."""
    try:
        return Paper(**fields)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "record"
            message = error["msg"].removeprefix("Value error, ")
            value = error.get("input")
            if field != "record" and not isinstance(value, dict):
                message += f" (got {short(value)})"
            problems.append(Problem(where, field, message))
        raise RecordError(problems) from None


def short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------- arXiv metadata

# cs.LG, hep-th, math-ph, astro-ph.CO, cond-mat.dis-nn, physics.acc-ph, q-bio.QM: never MSC
# codes ("53D10, 53D15") or ACM classes ("F.2.2; I.2.7"), which the API lists as categories too.
_ARXIV_CATEGORY = re.compile(r"^[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]+(?:-[a-z]+)*)?$")


def arxiv_categories(terms: list[str]) -> list[str]:
    """Only the terms that are arXiv categories, in order, once each."""
    seen: list[str] = []
    for term in terms:
        term = term.strip()
        if _ARXIV_CATEGORY.match(term) and term not in seen:
            seen.append(term)
    return seen


_NOT_SHOWN = re.compile(r",?\s*et al\.?\s*\(\s*\d+\s+additional authors? not shown\s*\)\s*$", re.IGNORECASE)
_ET_AL = re.compile(r",?\s*\bet al\.?\s*$", re.IGNORECASE)
_PAREN = re.compile(r"\([^()]*\)")
_SUFFIX = re.compile(r"^(?:Jr|Sr|II|III|IV)\.?$")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
_INITIALS_HYPHEN = re.compile(r"\.\s+-(?=\w)")


def split_authors(text: str) -> list[str]:
    """Names from arXiv's free-text author string.

    Affiliations in parentheses (`A. S. Mishchenko (1, 2)`, `(Bologna Univ. and INFN)`) are
    not authors; "Jr." belongs to the name before it; "et al. (909 additional authors not
    shown)" and a trailing "et al" are dropped; "and" separates like a comma; LaTeX accents
    are decoded (`C. Bal\\'azs` is C. Balázs). HTML entities are decoded first, however often the
    feed escaped them: the `;` of `Lu&#xed;s` (old RSS listings write `Lu&amp;#xed;s`) is no separator.
    """
    text = collapse_whitespace(_HTML_TAG.sub("", unescape_fully(text)))
    text = _NOT_SHOWN.sub("", text)
    text = _ET_AL.sub("", text)
    previous = None
    while previous != text:  # nested parentheses: innermost first
        previous, text = text, _PAREN.sub(" ", text)
    parts = [p.strip() for p in re.split(r",|;|\s+and\s+|^and\s+", text) if p and p.strip()]
    names: list[str] = []
    for part in parts:
        part = part.strip().removeprefix("and ").strip()
        if not part:
            continue
        if names and _SUFFIX.match(part):
            names[-1] = f"{names[-1]}, {part}"
            continue
        if ": " in part:  # "LHCb collaboration: R. Aaij"
            names.extend(clean_title(p) for p in part.split(": ") if p.strip())
            continue
        names.append(clean_title(part))
    return [n for n in names if n]


def name_from_parts(last: str, first: str = "", suffix: str = "") -> str:
    """`authors_parsed` and OAI `<author>` give [last, first, suffix, affiliation...]: affiliations are dropped.

    The snapshot's parts write a hyphenated first name's initials apart (`C. -P.` for C.-P. Yuan): joined again.
    """
    first = _INITIALS_HYPHEN.sub(".-", first)
    name = " ".join(p for p in (first.strip(), last.strip()) if p)
    if suffix.strip():
        name = f"{name}, {suffix.strip()}"
    return clean_title(name)


# ---------------------------------------------------------------------------- opening files


def inner_name(name: str) -> str:
    """`snapshot.jsonl.gz` reads as `snapshot.jsonl`."""
    lower = name.lower()
    for suffix in COMPRESSED:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def is_supported(path: Path) -> bool:
    name = path.name.lower()
    if name.startswith("."):
        return False
    if name.endswith(".zip"):
        return True
    return Path(inner_name(name)).suffix in DATA_SUFFIXES


class ReadProgress:
    """How far into a file its records have been read: the bytes of the file on disk read so far.

    For a compressed file, the compressed bytes: a fair share of the records either way. The reader
    reads ahead by a buffer, so the share is a little high until the end.
    """

    def __init__(self) -> None:
        self.raw: BinaryIO | None = None
        self.size = 0
        self._last: float | None = None

    @property
    def fraction(self) -> float | None:
        """The share read, 0..1; once the file is closed, the last share seen (None: never seen)."""
        if self.raw is None or not self.size:
            return self._last
        try:
            self._last = min(1.0, self.raw.tell() / self.size)
        except (OSError, ValueError):  # closed
            pass
        return self._last


@contextmanager
def open_members(path: Path, progress: ReadProgress | None = None) -> Iterator[list[tuple[str, BinaryIO]]]:
    """Binary streams of the file's data: one for a plain or .gz/.bz2/.xz file, one per member of a .zip.

    Each is read as it goes, so memory stays flat whatever the size of the file; `progress`, when
    given, follows the position in the file on disk.
    """
    lower = path.name.lower()
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise LoadError(path, [Problem("", "file", f"cannot read: {exc.strerror or exc}")]) from None
    if progress is not None:
        progress.raw, progress.size = raw, os.fstat(raw.fileno()).st_size
    with raw:
        with _open_members(path, lower, raw) as members:
            yield members


@contextmanager
def _open_members(path: Path, lower: str, raw: BinaryIO) -> Iterator[list[tuple[str, BinaryIO]]]:
    try:
        if lower.endswith(".zip"):
            with zipfile.ZipFile(raw) as archive:
                names = [
                    n
                    for n in archive.namelist()
                    if not n.endswith("/") and is_supported(Path(n)) and "__MACOSX" not in n
                ]
                if not names:
                    raise LoadError(
                        path, [Problem("", "file", "the .zip holds no supported files (.jsonl, .xml, .rss, .txt ...)")]
                    )
                streams = [(f"{path}!{name}", archive.open(name)) for name in names]
                try:
                    yield streams
                finally:
                    for _, stream in streams:
                        stream.close()
            return
        opener = next((fn for suffix, fn in COMPRESSED.items() if lower.endswith(suffix)), None)
        stream = opener(raw, "rb") if opener else raw
        with stream:
            yield [(str(path), stream)]
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as exc:
        raise LoadError(path, [Problem("", "file", f"cannot read: {getattr(exc, 'strerror', None) or exc}")]) from None


def peek(stream: BinaryIO, size: int = 2048) -> tuple[bytes, BinaryIO]:
    """The first bytes of a stream, and a stream that still yields them."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[arg-type]
    return buffered.peek(size)[:size], buffered
