"""The `Paper` record: the one shape every source is turned into before it is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from corpus.text import collapse_whitespace, split_sentences

# New style: 2403.05530 (4+5 digits since 2015, 4+4 before). Old style: hep-th/9901001, math.AG/0101001.
_NEW_ARXIV = re.compile(r"^(?P<id>\d{4}\.\d{4,5})(?:v(?P<v>\d+))?$")
_OLD_ARXIV = re.compile(r"^(?P<id>[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<v>\d+))?$")
_ARXIV_PREFIX = re.compile(r"^(?:arxiv:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)", re.IGNORECASE)
_OTHER_ID = re.compile(r"^[^\s\x00-\x1f\x7f]{1,200}$")


class InvalidId(ValueError):
    """An id that claims to be an arXiv id but is not one, or is empty or unprintable."""


def parse_arxiv_id(raw: str) -> tuple[str, int | None] | None:
    """Return (canonical id, version) when ``raw`` is an arXiv id, else None.

    Accepts ``arXiv:`` prefixes, abs/pdf URLs, a ``.pdf`` ending and a ``vN`` suffix.
    Raises InvalidId when the text is marked as arXiv (prefix or URL) but does not parse.
    """
    text = raw.strip()
    marked = bool(_ARXIV_PREFIX.match(text))
    text = _ARXIV_PREFIX.sub("", text)
    if text.endswith(".pdf"):
        text = text[:-4]
    for pattern in (_NEW_ARXIV, _OLD_ARXIV):
        match = pattern.match(text)
        if match:
            version = int(match.group("v")) if match.group("v") else None
            return match.group("id"), version
    if marked:
        raise InvalidId(f"{raw!r} is not an arXiv id (expected e.g. 2403.05530 or hep-th/9901001)")
    return None


def normalise_id(raw: str) -> tuple[str, int | None]:
    """Canonical id and version for any source: arXiv ids normalised, others kept as given."""
    if not isinstance(raw, str):
        raw = str(raw)
    parsed = parse_arxiv_id(raw)
    if parsed:
        return parsed
    text = raw.strip()
    if not _OTHER_ID.match(text):
        raise InvalidId(f"{raw!r} is not a usable id (1-200 printable characters, no spaces)")
    return text, None


def is_arxiv_id(paper_id: str) -> bool:
    return bool(_NEW_ARXIV.match(paper_id) or _OLD_ARXIV.match(paper_id))


def arxiv_id_year(paper_id: str) -> int | None:
    """The year an arXiv id was issued: 1805.11898 is May 2018, hep-th/9608091 August 1996; None for other ids.

    New-style ids began in April 2007 (0704.0001); old-style ones ran from 1991 (9108) to March 2007 (0703).
    """
    new = _NEW_ARXIV.match(paper_id)
    if new:
        return 2000 + int(paper_id[:2])
    old = _OLD_ARXIV.match(paper_id)
    if old:
        yy = int(paper_id.split("/")[1][:2])
        return 1900 + yy if yy >= 91 else 2000 + yy
    return None


class Paper(BaseModel):
    """One abstract with its metadata. Built by the loaders, stored by `corpus.store`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="arXiv id without version (2403.05530, hep-th/9901001) or the source's own id")
    version: int | None = Field(default=None, ge=1, description="arXiv version; a higher one replaces a lower")
    title: str = ""
    authors: list[str] = Field(default_factory=list)
    abstract: str = Field(min_length=1)
    sentences: list[str] = Field(default_factory=list, description="the abstract split once, at ingest")
    published: dt.date | None = Field(default=None, description="the first version's date, never a re-announcement")
    updated: dt.date | None = None
    announced: dt.date | None = Field(
        default=None, description="the day a feed (re-)announced it: new, cross or replace"
    )
    comment: str | None = None
    doi: str | None = Field(default=None, description="the published version's DOI, when the source gives one")
    journal_ref: str | None = Field(default=None, description="where it was published, as the source writes it")
    categories: list[str] = Field(default_factory=list)
    url: str | None = None
    source: str = Field(default="", description="where the record came from: a file name or feed")

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if isinstance(data.get("id"), str) and data.get("version") is None:
            try:
                data["version"] = normalise_id(data["id"])[1]
            except InvalidId:
                pass  # reported against the id field by _canonical_id
        return data

    @field_validator("id", mode="before")
    @classmethod
    def _canonical_id(cls, value: object) -> str:
        try:
            return normalise_id(value)[0]
        except InvalidId as exc:
            raise ValueError(str(exc)) from None

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        # LaTeX and entities are decoded once, by the loaders (corpus.text.clean_title); doing it here
        # would clean a stored title again on every read, and cleaning is only idempotent, not free.
        return collapse_whitespace(value)

    @field_validator("abstract")
    @classmethod
    def _check_abstract(cls, value: str) -> str:
        # Cleaning happens in the loaders (corpus.text.clean_abstract) for raw text only:
        # a record that brings its own sentences keeps them, and the abstract is their join.
        if not value.strip():
            raise ValueError("the abstract is empty")
        return value

    @field_validator("authors", "categories")
    @classmethod
    def _clean_names(cls, value: list[str]) -> list[str]:
        return [name for name in (collapse_whitespace(v) for v in value) if name]

    @field_validator("comment", "doi", "journal_ref")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        # the API wraps long values over lines ("...Mental Health\n  Care (2015)"): one line each
        return collapse_whitespace(value) or None if value is not None else None

    @model_validator(mode="after")
    def _fill_derived(self) -> Paper:
        # Frozen model: derived fields are set once here, through object.__setattr__.
        if not self.sentences:
            object.__setattr__(self, "sentences", split_sentences(self.abstract))
        if self.url is None and is_arxiv_id(self.id):
            object.__setattr__(self, "url", f"https://arxiv.org/abs/{self.id}")
        return self

    @property
    def year(self) -> int | None:
        """The first version's year; without a date (a feed that gives none), the year of its arXiv id."""
        return self.published.year if self.published else arxiv_id_year(self.id)

    def content_hash(self) -> str:
        """Fingerprint of everything but the source, to tell 'unchanged' from 'updated'."""
        payload = self.model_dump(mode="json", exclude={"source"})
        for later in ("announced", "doi", "journal_ref"):  # added later: when absent, earlier hashes stay as they were
            if payload.get(later) is None:
                payload.pop(later, None)
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


_EMPTY: tuple = (None, "", [])


def merge(old: Paper, new: Paper) -> Paper:
    """The same paper seen again: the new record updates, and fills, but never blanks a field.

    A field the new record lacks (a seed abstract without a title, a feed item without a date)
    keeps its stored value. An older version only fills what the stored one lacks. `published`
    is the first version's date, so the earlier of two dates wins. The abstract and its
    sentences travel together, so answers keep quoting the sentences of the abstract they show.
    """
    older = new.version is not None and old.version is not None and new.version < old.version
    base, extra = (old, new) if older else (new, old)
    fields = base.model_dump()
    other = extra.model_dump()
    for name, value in other.items():
        if name in ("sentences", "source"):
            continue
        if fields.get(name) in _EMPTY and value not in _EMPTY:
            fields[name] = value
            if name == "abstract":
                fields["sentences"] = other["sentences"]
    if old.published and new.published:
        fields["published"] = min(old.published, new.published)
    versions = [v for v in (old.version, new.version) if v is not None]
    fields["version"] = max(versions) if versions else None
    fields["source"] = new.source or old.source
    return Paper(**fields)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located by line (or feed entry) and field."""

    where: str  # "12" for a line, "entry 3" for a feed entry, "" for the whole file
    field: str
    message: str


class RecordError(Exception):
    """A record that cannot become a Paper: the problems say where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.where}: {p.field}: {p.message}" for p in problems))


@dataclass
class RawRecord:
    """A record read but not yet validated, so an unchanged one can be skipped without building it.

    `digest` fingerprints the record's raw text: when the store saw the same digest for the
    same `id` before, the record is unchanged and `build` (JSON decoding, cleaning, sentence
    splitting: most of an ingest's time) is never called.
    """

    where: str
    id: str | None
    digest: str | None
    build: Callable[[], Paper] = field(repr=False)
