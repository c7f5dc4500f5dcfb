"""JSON Lines: arXiv's metadata snapshot and generic records (SciFact, SciTLDR, your own), read line by line."""

from __future__ import annotations

import email.utils
import functools
import hashlib
import json
import re
from collections.abc import Iterator
from typing import BinaryIO

from corpus.formats.common import arxiv_categories, name_from_parts, split_authors, validate
from corpus.models import InvalidId, Paper, Problem, RawRecord, RecordError, normalise_id
from corpus.text import clean_abstract, clean_title

ID_KEYS = ("id", "doc_id", "_id", "paper_id", "arxiv_id")
# The snapshot writes "id" first: finding it without decoding the line lets an unchanged record skip decoding.
_LEADING_ID = re.compile(rb'^\s*\{\s*"id"\s*:\s*"([^"\\]{1,200})"')


def jsonl_records(stream: BinaryIO, source: str) -> Iterator[RawRecord | Problem]:
    """One RawRecord per non-blank line; a line that is not UTF-8 or not JSON is a Problem naming the line."""
    for number, raw in enumerate(stream, 1):
        if not raw.strip():
            continue
        where = str(number)
        digest = hashlib.blake2b(raw, digest_size=12).hexdigest()
        match = _LEADING_ID.match(raw)
        if match:
            key = _canonical(match.group(1).decode("utf-8", "replace"))
            yield RawRecord(where, key, digest, functools.partial(_build, raw, source, where))
            continue
        decoded = _decode(raw, where)
        if isinstance(decoded, Problem):
            yield decoded
            continue
        id_key = next((k for k in ID_KEYS if decoded.get(k) not in (None, "")), None)
        key = _canonical(str(decoded[id_key])) if id_key else None
        yield RawRecord(where, key, digest, functools.partial(_from_record, decoded, source, where))


def _canonical(raw_id: str) -> str | None:
    try:
        return normalise_id(raw_id)[0]
    except InvalidId:
        return None


def _decode(raw: bytes, where: str) -> dict | Problem:
    try:
        text = raw.decode("utf-8-sig") if where == "1" else raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(where, "encoding", f"byte 0x{raw[exc.start]:02x} is not UTF-8; re-save the file as UTF-8")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (the line is cut short?)" if "Unterminated" in exc.msg or "Expecting" in exc.msg else ""
        return Problem(where, "json", f"invalid JSON at column {exc.colno}: {exc.msg}{hint}")
    if not isinstance(record, dict):
        return Problem(where, "record", f"expected a JSON object, got {type(record).__name__}")
    return record


def _build(raw: bytes, source: str, where: str) -> Paper:

    decoded = _decode(raw, where)
    if isinstance(decoded, Problem):
        raise RecordError([decoded])
    return _from_record(decoded, source, where)


def _from_record(record: dict, source: str, where: str) -> Paper:

    fields = record_fields(record, source, where)
    if isinstance(fields, Problem):
        raise RecordError([fields])
    return validate(fields, where)


def record_fields(record: dict, source: str, where: str) -> dict | Problem:
    id_key = next((key for key in ID_KEYS if record.get(key) not in (None, "")), None)
    if id_key is None:
        return Problem(where, "id", "missing: give one of " + ", ".join(ID_KEYS))
    fields: dict = {"id": str(record[id_key]), "source": source, "title": clean_title(str(record.get("title") or ""))}

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

    parsed = record.get("authors_parsed")
    authors = record.get("authors")
    if isinstance(parsed, list) and parsed and all(isinstance(p, list) and p for p in parsed):
        # the snapshot's [last, first, suffix, affiliation...]: the free-text "authors" mixes in affiliations
        fields["authors"] = [n for n in (name_from_parts(*[str(x) for x in (p + ["", ""])[:3]]) for p in parsed) if n]
    elif isinstance(authors, str):
        fields["authors"] = split_authors(authors)
    elif isinstance(authors, list):
        fields["authors"] = [clean_title(str(a)) for a in authors if str(a).strip()]

    categories = record.get("categories")
    if isinstance(categories, str):
        categories = arxiv_categories(categories.split())
    if categories:
        fields["categories"] = categories

    versions = record.get("versions")
    if isinstance(versions, list) and versions:  # arXiv metadata snapshot
        fields["version"] = max(_version_number(v) for v in versions)
        first = rfc2822_date(versions[0].get("created")) if isinstance(versions[0], dict) else None
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
    for field, keys in (("doi", ("doi",)), ("journal_ref", ("journal-ref", "journal_ref"))):
        value = next((record[k] for k in keys if isinstance(record.get(k), str) and record[k].strip()), None)
        if value:  # the snapshot's "doi" and "journal-ref": what a citation needs beyond arXiv
            fields[field] = value
    if record.get("url"):
        fields["url"] = str(record["url"])
    elif dataset_url(record):
        fields["url"] = dataset_url(record)
    return fields


def dataset_url(record: dict) -> str | None:
    """Where a paper of the project's datasets can be read, so an answer quoting it links to it.

    SciTLDR's `paper_id` is the paper's OpenReview forum id; SciFact's `doc_id` is its Semantic
    Scholar corpus id. Recognised by their fields (SciTLDR: source sentences with labels or targets;
    SciFact: numeric doc_id with sentences), never guessed for other records.
    """
    paper_id, doc_id = record.get("paper_id"), record.get("doc_id")
    if (
        isinstance(paper_id, str)
        and isinstance(record.get("source"), list)
        and ("target" in record or "source_labels" in record)
    ):
        if re.fullmatch(r"[A-Za-z0-9_-]{6,20}", paper_id):
            return f"https://openreview.net/forum?id={paper_id}"
    if doc_id is not None and re.fullmatch(r"\d{1,12}", str(doc_id)) and isinstance(record.get("sentences"), list):
        return f"https://api.semanticscholar.org/CorpusID:{doc_id}"
    return None


def _version_number(version: object) -> int:
    label = version.get("version", "v1") if isinstance(version, dict) else str(version)
    digits = re.sub(r"\D", "", str(label))
    return int(digits) if digits else 1


def rfc2822_date(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return email.utils.parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return None
