"""Citations of a paper: BibTeX in arXiv's own form, and a plain-text reference.

arXiv's "Export BibTeX citation" writes `@misc{key, title=, author=, year=, eprint=,
archivePrefix={arXiv}, primaryClass=, url=}`; we follow it, adding `doi` and the journal
reference (as `note`) when the record has them. Values sit in braces, so a title's LaTeX
(`$H^{p,q}$`) is kept as written; braces that do not balance are escaped so that one odd
title cannot break the whole entry, and LaTeX's special characters outside math (`&`, `%`,
`#`, `_`) are escaped in the title, authors and note (`Bits & Pieces` would stop a LaTeX build).
Names stay in arXiv's "First Last" form, which BibTeX reads right, except those it would read
wrong: a suffix ("Charles R. Qi, Jr." is written "Qi, Jr., Charles R.") and a collaboration
(kept whole in braces). `nameparser` finds a name's parts (family name with its particles:
"de Carvalho"), which also give the key.
"""

from __future__ import annotations

import re
import unicodedata

from nameparser import HumanName

from corpus.models import Paper, is_arxiv_id

_KEY_WORD = re.compile(r"[A-Za-z]{3,}")
_SKIP_WORDS = frozenset(
    {"the", "and", "for", "with", "from", "towards", "toward", "via", "into", "over", "what", "how"}
)


_COLLECTIVE = re.compile(r"\b(?:collaboration|consortium|team|group|project|initiative|collective)\b", re.IGNORECASE)
_LATEX_SPECIAL = re.compile(r"(?<!\\)([&%#_])")
_MATH = re.compile(r"(\$\$.+?\$\$|\$[^$]+\$)", re.DOTALL)


def family_name(name: str) -> str:
    """The family name without its particles ("Carvalho" of "André C. P. L. F. de Carvalho", "Qi" of "Qi, Jr.")."""
    if _COLLECTIVE.search(name):
        return name.split()[0] if name.split() else ""
    last = HumanName(name).last or (name.split()[-1] if name.split() else "")
    words = [w for w in last.split() if not w[:1].islower()]
    return words[-1] if words else last


def bibtex_name(name: str) -> str:
    """A name as BibTeX reads it right: "First Last", or "von Last, Jr., First" when it has a suffix."""
    if _COLLECTIVE.search(name) or " and " in f" {name.lower()} ":
        return "{" + name + "}"  # a collaboration is one name, not first and last names
    if "," not in name:
        return name
    parts = HumanName(name)
    if not parts.last:
        return "{" + name + "}"
    first = " ".join(p for p in (parts.first, parts.middle) if p)
    return ", ".join(p for p in (parts.last, parts.suffix, first) if p)


def bibtex_key(paper: Paper) -> str:
    """arXiv-like key: first author's family name, year, first significant title word — ascii, lower case."""
    family = (family_name(paper.authors[0]) if paper.authors else "") or "anon"
    year = str(paper.year or "")
    word = next((w for w in _KEY_WORD.findall(paper.title) if w.lower() not in _SKIP_WORDS), "paper")
    key = _ascii(f"{family}{year}{word}").lower()
    return re.sub(r"[^a-z0-9]", "", key) or re.sub(r"[^A-Za-z0-9]", "", paper.id) or "paper"


def bibliography(papers: list[Paper]) -> str:
    """Several entries as one .bib file: a key that repeats gets a letter (`lovelace2024bits`, `lovelace2024bitsb`)."""
    seen: dict[str, int] = {}
    entries = []
    for paper in papers:
        key = bibtex_key(paper)
        seen[key] = seen.get(key, 0) + 1
        entries.append(bibtex(paper, key if seen[key] == 1 else f"{key}{chr(ord('a') + min(seen[key] - 1, 25))}"))
    return "\n\n".join(entries) + "\n"


def bibtex(paper: Paper, key: str | None = None) -> str:
    """One `@misc` entry, valid BibTeX whatever the title holds."""
    authors = " and ".join(bibtex_name(name) for name in paper.authors) or "Unknown"
    fields = [("title", _latex_safe(paper.title or paper.id)), ("author", _latex_safe(authors))]
    if paper.year:
        fields.append(("year", str(paper.year)))
    if is_arxiv_id(paper.id):
        fields += [("eprint", paper.id), ("archivePrefix", "arXiv")]
        if paper.categories:
            fields.append(("primaryClass", paper.categories[0]))
    if paper.doi:
        fields.append(("doi", paper.doi))
    if paper.journal_ref:
        fields.append(("note", _latex_safe(paper.journal_ref)))
    if paper.url:
        fields.append(("url", paper.url))
    body = ",\n".join(f"      {name}={{{_brace_safe(value)}}}" for name, value in fields)
    return f"@misc{{{key or bibtex_key(paper)},\n{body}\n}}"


def plain_reference(paper: Paper) -> str:
    """Authors (up to three, then "et al."), "Title", arXiv:id [class], year, with DOI and journal when known."""
    names = paper.authors[:3]
    authors = ", ".join(names) + (" et al." if len(paper.authors) > 3 else "")
    title = paper.title or paper.id
    parts = [
        _sentence(authors) if authors else "",  # "Garcia et al.", never "et al.."
        f'"{_sentence(title)}"',
    ]
    if is_arxiv_id(paper.id):
        primary = f" [{paper.categories[0]}]" if paper.categories else ""
        parts.append(f"arXiv:{paper.id}{primary}")
    else:
        parts.append(paper.id)
    if paper.journal_ref:
        parts.append(paper.journal_ref)
    if paper.year:
        parts.append(f"({paper.year})")
    if paper.doi:
        parts.append(f"doi:{paper.doi}")
    if paper.url:
        parts.append(paper.url)
    return " ".join(p for p in parts if p)


def _sentence(text: str) -> str:
    """`text` ending in a full stop: one is added unless it already ends in one (or in ? or !)."""
    return text if text.endswith((".", "?", "!")) else text + "."


def _latex_safe(value: str) -> str:
    """`&`, `%`, `#` and `_` escaped outside `$...$` math (inside math they mean what the author wrote)."""
    parts = _MATH.split(value)
    for index in range(0, len(parts), 2):
        parts[index] = _LATEX_SPECIAL.sub(r"\\\1", parts[index])
    return "".join(parts)


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
