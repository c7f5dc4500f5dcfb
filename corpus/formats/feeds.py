"""arXiv feeds: API Atom responses, RSS 2.0 listings (2024 on) and RSS 1.0 listings (before 2024).

feedparser reads all three. What it cannot know is arXiv's conventions, handled here:
- old listings put version, primary category and kind in the title:
  `New Perspective on Hybrid Mesons. (arXiv:1805.06430v2 [nucl-th] UPDATED)`;
- new listings say the kind in `arxiv:announce_type` (new, cross, replace, replace-cross);
- a listing's date is the announcement day: it is the paper's first-version date only for a
  new paper, so a replacement or cross-list records it as `announced`, never `published`;
- the API lists MSC and ACM classes among the categories; they are not arXiv categories.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
import xml.sax
from collections.abc import Iterator

from corpus.formats.common import LoadError, arxiv_categories, split_authors, validate
from corpus.models import Problem, RawRecord
from corpus.text import clean_abstract, clean_title

_RSS_PREAMBLE = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*([\w-]+)\s*Abstract:\s*", re.IGNORECASE)
_OLD_TITLE = re.compile(
    r"\.?\s*\(arXiv:(?P<id>\S+?)(?:v(?P<v>\d+))?\s+\[(?P<cat>[^\]]+)\](?:\s+(?P<kind>UPDATED|CROSS LISTED))?\)\s*$"
)
_OLD_KIND = {None: "new", "UPDATED": "replace", "CROSS LISTED": "cross"}
_VERSION = re.compile(r"v(\d+)$")


def feed_records(text: str, source: str) -> Iterator[RawRecord | Problem]:
    """Records of an Atom or RSS feed; LoadError when the text is not a feed at all."""
    with warnings.catch_warnings():  # feedparser warns about its own updated/published fallback
        warnings.simplefilter("ignore", DeprecationWarning)
        import feedparser  # here: every command imports this module, few read a feed (0.04 s of start-up)

        parsed = feedparser.parse(text)
        return _feed_records(parsed, text, source)


def _feed_records(parsed, text: str, source: str) -> Iterator[RawRecord | Problem]:
    exc = parsed.get("bozo_exception")
    if parsed.bozo and (isinstance(exc, xml.sax.SAXParseException) or not parsed.entries):
        line = exc.getLineNumber() if hasattr(exc, "getLineNumber") else ""
        raise LoadError(source, [Problem(str(line), "xml", f"malformed feed: {exc}")])
    if not parsed.get("version"):
        head = text.lstrip()[:300].lower()
        kind = "an HTML page" if "<html" in head or "<!doctype html" in head else "XML that is not a feed"
        raise LoadError(
            source,
            [Problem("", "file", f"this is {kind}, not an arXiv Atom/RSS feed or OAI-PMH response: nothing was read")],
        )
    for entry in parsed.entries:
        if "api/errors" in entry.get("id", ""):
            raise LoadError(source, [Problem("", "feed", f"arXiv API error: {entry.get('summary', '')}")])
    channel_day = _day(parsed.feed.get("updated_parsed") or parsed.feed.get("published_parsed"))
    out: list[RawRecord | Problem] = []
    for number, entry in enumerate(parsed.entries, 1):
        where = f"entry {number}"
        fields = _entry_fields(entry, source, where, channel_day)
        if isinstance(fields, Problem):
            out.append(fields)
        else:
            out.append(RawRecord(where, None, None, lambda fields=fields, where=where: validate(fields, where)))
    return iter(out)


def _day(struct) -> dt.date | None:
    return dt.date(struct.tm_year, struct.tm_mon, struct.tm_mday) if struct else None


def _entry_fields(entry, source: str, where: str, channel_day: dt.date | None) -> dict | Problem:
    raw_id = entry.get("id") or entry.get("link") or ""
    raw_id = raw_id.replace("oai:arXiv.org:", "")
    title = entry.get("title", "")
    categories = [t.get("term") for t in entry.get("tags", []) if t.get("term")]
    kind = entry.get("arxiv_announce_type")
    version = None

    old = _OLD_TITLE.search(title)
    if old:  # RSS 1.0 listing
        title = title[: old.start()]
        raw_id = old.group("id")
        version = int(old.group("v")) if old.group("v") else None
        categories = [old.group("cat"), *categories]
        kind = _OLD_KIND[old.group("kind")]

    summary = entry.get("summary", "")
    preamble = _RSS_PREAMBLE.match(summary)
    if preamble:
        kind = kind or preamble.group(1).lower()
        summary = summary[preamble.end() :]
    abstract = clean_abstract(re.sub(r"</?[a-zA-Z][^<>]*>", " ", summary))
    if not abstract:
        return Problem(where, "abstract", f"missing in feed entry {raw_id!r}")

    fields: dict = {"id": raw_id, "title": clean_title(title), "abstract": abstract, "source": source}
    if version is not None:
        fields["version"] = version
    fields["authors"] = _authors(entry)
    fields["categories"] = arxiv_categories(categories)

    day = {key: _day(entry.get(f"{key}_parsed")) for key in ("published", "updated")}
    if kind:  # a listing: its date is the day of the announcement
        announced = day["published"] or day["updated"] or channel_day
        fields["announced"] = announced
        if kind == "new" and announced:
            fields["published"] = announced
    else:  # the API: published is the first version, updated the latest
        if day["published"]:
            fields["published"] = day["published"]
        if day["updated"]:
            fields["updated"] = day["updated"]
    if entry.get("arxiv_comment"):
        fields["comment"] = entry["arxiv_comment"]
    # the API's <arxiv:doi> and <arxiv:journal_ref>; RSS's <arxiv:DOI> and <arxiv:journal_reference>
    # (feedparser lower-cases the names)
    if entry.get("arxiv_doi"):
        fields["doi"] = entry["arxiv_doi"]
    journal = entry.get("arxiv_journal_ref") or entry.get("arxiv_journal_reference")
    if journal:
        fields["journal_ref"] = journal
    return fields


def _authors(entry) -> list[str]:
    names = [a.get("name", "") for a in entry.get("authors", []) if a.get("name")]
    if len(names) == 1:
        # RSS puts every author in one dc:creator, old listings as HTML links, with affiliations and "et al."
        text = re.sub(r"<[^>]+>", "", names[0])
        return split_authors(text)
    return [clean_title(n) for n in names]
