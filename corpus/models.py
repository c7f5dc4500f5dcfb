"""The `Paper` record: the one shape every source is turned into before it is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from corpus.text import clean_title, collapse_whitespace, split_sentences

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


class Paper(BaseModel):
    """One abstract with its metadata. Built by the loaders, stored by `corpus.store`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="arXiv id without version (2403.05530, hep-th/9901001) or the source's own id")
    version: int | None = Field(default=None, ge=1, description="arXiv version; a higher one replaces a lower")
    title: str = ""
    authors: list[str] = Field(default_factory=list)
    abstract: str = Field(min_length=1)
    sentences: list[str] = Field(default_factory=list, description="the abstract split once, at ingest")
    published: dt.date | None = None
    updated: dt.date | None = None
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
    def _clean_title(cls, value: str) -> str:
        return clean_title(value)

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
        return [name for name in (clean_title(v) for v in value) if name]

    @field_validator("comment")
    @classmethod
    def _clean_comment(cls, value: str | None) -> str | None:
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
        return self.published.year if self.published else None

    def content_hash(self) -> str:
        """Fingerprint of everything but the source, to tell 'unchanged' from 'updated'."""
        payload = self.model_dump(mode="json", exclude={"source"})
        for later in ("doi", "journal_ref"):  # fields added later: absent ones leave earlier hashes as they were
            if payload[later] is None:
                del payload[later]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]
