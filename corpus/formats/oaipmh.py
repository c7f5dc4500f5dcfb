"""OAI-PMH responses from arXiv (`metadataPrefix=arXiv` or `arXivRaw`): ingested files and harvested pages.

Read with ElementTree's iterparse, one <record> at a time, each cleared once read, so a
saved response of any size is read in flat memory. An OAI-PMH error (noRecordsMatch,
badResumptionToken ...) is reported, never read as "0 records".
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from corpus.formats.common import arxiv_categories, name_from_parts, split_authors, validate
from corpus.formats.jsonl import rfc2822_date
from corpus.models import Problem, RawRecord
from corpus.text import clean_abstract, clean_title

OAI = "{http://www.openarchives.org/OAI/2.0/}"
ARXIV = "{http://arxiv.org/OAI/arXiv/}"
RAW = "{http://arxiv.org/OAI/arXivRaw/}"


class OaiError(Exception):
    """The response is an OAI-PMH error: `code` as the protocol names it (badResumptionToken ...)."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(f"OAI-PMH error {code}: {message.strip() or 'no message'}")


class NotRecords(OaiError):
    """A well-formed OAI-PMH response of a verb that carries no records (ListIdentifiers, Identify ...)."""

    def __init__(self, verb: str | None):
        self.code = verb or "none"
        kind = f"an OAI-PMH {verb} response" if verb else "an OAI-PMH response without ListRecords or GetRecord"
        Exception.__init__(
            self,
            f"this is {kind}, which holds no records: save ListRecords or GetRecord pages"
            " (metadataPrefix=arXiv or arXivRaw), or load them with `paperbot harvest`",
        )


_OTHER_VERBS = {f"{OAI}{verb}": verb for verb in ("ListIdentifiers", "Identify", "ListSets", "ListMetadataFormats")}


@dataclass
class Page:
    """What a ListRecords response says beyond its records: where to resume, and how far along."""

    token: str | None = None
    complete_size: int | None = None
    cursor: int | None = None
    records: int = 0
    deleted: int = 0
    errors: list[OaiError] = field(default_factory=list)


def oai_records(stream: BinaryIO, source: str, page: Page | None = None) -> Iterator[RawRecord | Problem]:
    """Each record of the response; deleted records are skipped, an OAI-PMH error raises OaiError.

    A response of another verb (a saved ListIdentifiers page names records but holds none of their
    metadata) raises NotRecords: read as "0 added" it would lose every record it names without a word.
    """
    page = page if page is not None else Page()
    number = 0
    container: ET.Element | None = None  # ListRecords: emptied after each record, so memory stays flat
    other_verb: str | None = None
    try:
        for event, element in ET.iterparse(stream, events=("start", "end")):
            tag = element.tag
            if event == "start":
                if tag in (f"{OAI}ListRecords", f"{OAI}GetRecord"):
                    container = element
                elif tag in _OTHER_VERBS:
                    other_verb = _OTHER_VERBS[tag]
                continue
            if tag == f"{OAI}record":
                number += 1
                where = f"record {number}"
                header = element.find(f"{OAI}header")
                if header is not None and header.get("status") == "deleted":
                    page.deleted += 1
                    _drop(container, element)
                    continue
                fields = _record_fields(element, source, where)
                _drop(container, element)
                page.records += 1
                if isinstance(fields, Problem):
                    yield fields
                else:
                    yield RawRecord(where, None, None, lambda fields=fields, where=where: validate(fields, where))
            elif tag == f"{OAI}resumptionToken":
                page.token = (element.text or "").strip() or None
                page.complete_size = _int(element.get("completeListSize"))
                page.cursor = _int(element.get("cursor"))
            elif tag == f"{OAI}error":
                raise OaiError(element.get("code", "unknown"), element.text or "")
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else ""
        yield Problem(str(line), "xml", f"the response is cut short or malformed ({exc}); nothing from it is stored")
        return
    if container is None:
        raise NotRecords(other_verb)


def _drop(container: ET.Element | None, element: ET.Element) -> None:
    element.clear()
    if container is not None:
        container.clear()  # the records read so far: the parser only appends after them


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _text(parent: ET.Element, path: str) -> str:
    node = parent.find(path)
    return (node.text or "").strip() if node is not None else ""


def _record_fields(record: ET.Element, source: str, where: str) -> dict | Problem:
    metadata = record.find(f"{OAI}metadata")
    if metadata is None or len(metadata) == 0:
        return Problem(where, "metadata", "record without metadata")
    body = metadata[0]
    if body.tag == f"{ARXIV}arXiv":
        return _arxiv_fields(body, source, where)
    if body.tag == f"{RAW}arXivRaw":
        return _raw_fields(body, source, where)
    return Problem(where, "metadata", f"unsupported metadata format {body.tag!r}: harvest with metadataPrefix=arXiv")


def _arxiv_fields(body: ET.Element, source: str, where: str) -> dict | Problem:
    ns = ARXIV
    abstract = clean_abstract(_text(body, f"{ns}abstract"))
    if not abstract:
        return Problem(where, "abstract", f"missing in record {_text(body, f'{ns}id')!r}")
    authors = []
    for author in body.iterfind(f"{ns}authors/{ns}author"):
        name = name_from_parts(
            _text(author, f"{ns}keyname"), _text(author, f"{ns}forenames"), _text(author, f"{ns}suffix")
        )
        if name:
            authors.append(name)  # <affiliation> is not an author
    fields: dict = {
        "id": _text(body, f"{ns}id"),
        "title": clean_title(_text(body, f"{ns}title")),
        "abstract": abstract,
        "authors": authors,
        "categories": arxiv_categories(_text(body, f"{ns}categories").split()),
        "source": source,
    }
    for key, tag in (("published", "created"), ("updated", "updated")):
        value = _text(body, f"{ns}{tag}")
        if value:
            fields[key] = value[:10]
    _add_extras(body, ns, fields)
    return fields


def _raw_fields(body: ET.Element, source: str, where: str) -> dict | Problem:
    ns = RAW
    abstract = clean_abstract(_text(body, f"{ns}abstract"))
    if not abstract:
        return Problem(where, "abstract", f"missing in record {_text(body, f'{ns}id')!r}")
    fields: dict = {
        "id": _text(body, f"{ns}id"),
        "title": clean_title(_text(body, f"{ns}title")),
        "abstract": abstract,
        "authors": split_authors(_text(body, f"{ns}authors")),
        "categories": arxiv_categories(_text(body, f"{ns}categories").split()),
        "source": source,
    }
    versions = []
    for version in body.iterfind(f"{ns}version"):
        label = version.get("version", "")
        digits = "".join(ch for ch in label if ch.isdigit())
        versions.append((int(digits) if digits else 1, rfc2822_date(_text(version, f"{ns}date"))))
    if versions:
        versions.sort()
        fields["version"] = versions[-1][0]
        if versions[0][1]:
            fields["published"] = versions[0][1]
        if len(versions) > 1 and versions[-1][1]:
            fields["updated"] = versions[-1][1]
    _add_extras(body, ns, fields)
    return fields


def _add_extras(body: ET.Element, ns: str, fields: dict) -> None:
    """<comments>, <doi> and <journal-ref>: the same elements in the `arXiv` and `arXivRaw` formats."""
    for key, tag in (("comment", "comments"), ("doi", "doi"), ("journal_ref", "journal-ref")):
        value = _text(body, f"{ns}{tag}")
        if value:
            fields[key] = value
