"""Citations of a paper: BibTeX in arXiv's own form, and a plain-text reference.

arXiv's "Export BibTeX citation" writes `@misc{key, title=, author=, year=, eprint=,
archivePrefix={arXiv}, primaryClass=, url=}`; we follow it, adding `doi` and the journal
reference (as `note`) when the record has them. Values sit in braces, so a title's LaTeX
(`$H^{p,q}$`) is kept as written; braces that do not balance are escaped so that one odd
title cannot break the whole entry.
"""

from __future__ import annotations

import re
import unicodedata

from corpus.models import Paper, is_arxiv_id

_KEY_WORD = re.compile(r"[A-Za-z]{3,}")
_SKIP_WORDS = frozenset(
    {"the", "and", "for", "with", "from", "towards", "toward", "via", "into", "over", "what", "how"}
)


def bibtex_key(paper: Paper) -> str:
    """arXiv-like key: first author's family name, year, first significant title word — ascii, lower case."""
    family = paper.authors[0].split()[-1] if paper.authors and paper.authors[0].split() else "anon"
    year = str(paper.published.year) if paper.published else ""
    word = next((w for w in _KEY_WORD.findall(paper.title) if w.lower() not in _SKIP_WORDS), "paper")
    key = _ascii(f"{family}{year}{word}").lower()
    return re.sub(r"[^a-z0-9]", "", key) or re.sub(r"[^A-Za-z0-9]", "", paper.id) or "paper"


def bibtex(paper: Paper) -> str:
    """One `@misc` entry, valid BibTeX whatever the title holds."""
    fields = [("title", paper.title or paper.id), ("author", " and ".join(paper.authors) or "Unknown")]
    if paper.published:
        fields.append(("year", str(paper.published.year)))
    if is_arxiv_id(paper.id):
        fields += [("eprint", paper.id), ("archivePrefix", "arXiv")]
        if paper.categories:
            fields.append(("primaryClass", paper.categories[0]))
    if paper.doi:
        fields.append(("doi", paper.doi))
    if paper.journal_ref:
        fields.append(("note", paper.journal_ref))
    if paper.url:
        fields.append(("url", paper.url))
    body = ",\n".join(f"      {name}={{{_brace_safe(value)}}}" for name, value in fields)
    return f"@misc{{{bibtex_key(paper)},\n{body}\n}}"


def plain_reference(paper: Paper) -> str:
    """Authors (up to three, then "et al."), "Title", arXiv:id [class], year, with DOI and journal when known."""
    names = paper.authors[:3]
    authors = ", ".join(names) + (" et al." if len(paper.authors) > 3 else "")
    parts = [f"{authors}." if authors else "", f'"{paper.title or paper.id}."']
    if is_arxiv_id(paper.id):
        primary = f" [{paper.categories[0]}]" if paper.categories else ""
        parts.append(f"arXiv:{paper.id}{primary}")
    else:
        parts.append(paper.id)
    if paper.journal_ref:
        parts.append(paper.journal_ref)
    if paper.published:
        parts.append(f"({paper.published.year})")
    if paper.doi:
        parts.append(f"doi:{paper.doi}")
    if paper.url:
        parts.append(paper.url)
    return " ".join(p for p in parts if p)


def _brace_safe(value: str) -> str:
    """Escape braces unless they balance, and collapse whitespace (BibTeX values are one line)."""
    value = " ".join(value.split())
    depth = 0
    for ch in value:
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            break
    if depth != 0:
        value = value.replace("{", r"\{").replace("}", r"\}")
    return value


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
