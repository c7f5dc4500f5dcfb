"""Text clean-up for display, and sentence splitting that keeps text verbatim.

Abstracts arrive with hard line breaks (arXiv), HTML entities (feeds) and LaTeX
(titles, author names). Cleaning happens once, at ingest, and is idempotent
(`clean_title(clean_title(x)) == clean_title(x)`), so a stored title never changes
when it is read back. Math between `$...$` is kept exactly as written: stripping
its braces changes its meaning (`$H^{p,q}$` is not `$H^p,q$`). Text-mode LaTeX
outside math (accents, `{\\em ...}`, `\\emph{...}`) is decoded by pylatexenc. The
abstract keeps its markup: answers quote it word for word.
"""

from __future__ import annotations

import ctypes
import html
import re
import threading
from functools import cache

_TAG = re.compile(r"</?[a-zA-Z][^<>$]{0,200}>")
_MATH = re.compile(r"(\$\$.+?\$\$|\$[^$]+\$)", re.DOTALL)
# pylatexenc reads % as a comment and & as an alignment tab: both are plain text in titles.
_BARE_SPECIAL = re.compile(r"(?<!\\)([%&#])")


@cache
def _latex_text():
    """pylatexenc's decoder, made on first use: most commands (search, ask) never clean a title, and blingfire
    and pylatexenc together cost every command's start-up ~0.15 s when imported with this module."""
    from pylatexenc.latex2text import LatexNodes2Text

    return LatexNodes2Text(math_mode="verbatim", keep_comments=True, strict_latex_spaces=True)


def collapse_whitespace(text: str) -> str:
    """One space between words, none at the ends; also folds non-breaking spaces."""
    return " ".join(text.split())


def clean_abstract(text: str) -> str:
    """Entities decoded and whitespace collapsed; markup otherwise left as written."""
    return collapse_whitespace(html.unescape(text))


def clean_title(text: str) -> str:
    """Display form of a title or a name: entities and HTML tags removed, text-mode LaTeX decoded, math kept."""
    if not any(mark in text for mark in _TITLE_MARKS):
        return collapse_whitespace(text)  # the common case (most names, many titles): nothing but whitespace to do
    text = unescape_fully(text)
    parts = _MATH.split(text)
    for index in range(0, len(parts), 2):  # even parts are outside math
        parts[index] = _decode_text_mode(_TAG.sub("", parts[index]))
    return collapse_whitespace("".join(parts))


# Without any of these, unescaping, math splitting, tag removal and LaTeX decoding all leave the text as it is.
_TITLE_MARKS = "&<$\\{}~"


def unescape_fully(text: str) -> str:
    """Feeds escape twice at times (`&amp;lt;`, `&amp;#xed;`): decode until stable, so cleaning again changes nothing."""
    for _ in range(3):
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    return text


def _decode_text_mode(text: str) -> str:
    if not any(mark in text for mark in "\\{}~"):
        return text  # the common case: nothing for LaTeX to do, and pylatexenc costs ~50 us a call
    try:
        return _latex_text().latex_to_text(_BARE_SPECIAL.sub(r"\\\1", text))
    except Exception:  # pylatexenc is lenient, but a title must never fail an ingest
        return text


def split_sentences(text: str) -> list[str]:
    """Split an abstract into sentences, each an exact substring of ``text``.

    blingfire finds the boundaries (about 0.1 ms an abstract; checked against
    SciFact's gold splits in bench/sentences.py); we slice the original string at
    its offsets so that not a character changes, then glue back a piece that
    follows an abbreviation blingfire does not know ("Fig.", "Eq.", "J. Phys. A:"),
    or an enumeration mark ("1.", "2.") that it took for a sentence end.
    """
    if not text.strip():
        return []
    offsets = _offsets(text)
    spans: list[list[int]] = []
    for start, end in offsets:
        if not text[start:end].strip():
            continue
        if spans and _glue(text[spans[-1][0] : spans[-1][1]].strip()):
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return [text[start:end].strip() for start, end in spans]


def _offsets(text: str) -> list[tuple[int, int]]:
    """blingfire's sentence spans. Its C splitter, then a find() of each sentence in the text, is 3x
    faster than its offsets call (which maps bytes to characters in Python); when a sentence does
    not appear verbatim (blingfire normalised something), the offsets call decides."""
    spans: list[tuple[int, int]] = []
    position = 0
    for sentence in _blingfire_sentences(text).split("\n"):
        sentence = sentence.strip()
        if not sentence:
            continue
        start = text.find(sentence, position)
        if start < 0:
            import blingfire

            return blingfire.text_to_sentences_and_offsets(text)[1]
        spans.append((start, start + len(sentence)))
        position = start + len(sentence)
    return spans


_SPLITTER = threading.local()  # each thread's output buffer for blingfire


def _blingfire_sentences(text: str) -> str:
    """`blingfire.text_to_sentences(text)`, with an output buffer kept between calls.

    blingfire's wrapper allocates (and zero-fills) a new buffer of twice the text per call: 6% of
    a big ingest's record-building time, profiled. Same result: the output up to its first NUL.
    """
    import blingfire  # here, not at the top: see _latex_text

    data = text.encode("utf-8")
    size = len(data) * 2
    buffer = getattr(_SPLITTER, "buffer", None)
    if buffer is None or len(buffer) < size:
        buffer = _SPLITTER.buffer = ctypes.create_string_buffer(max(size, 8192))
    written = blingfire.blingfire.TextToSentences(
        ctypes.c_char_p(data), ctypes.c_int(len(data)), ctypes.byref(buffer), ctypes.c_int(size)
    )
    if written == -1 or written > size:
        return ""
    return ctypes.string_at(buffer, written).split(b"\0", 1)[0].decode("utf-8")


def _glue(previous: str) -> bool:
    # Each pattern is anchored at the end, so a cheap look at the last characters rules most sentences out.
    if previous.endswith(_ABBREVIATION_ENDINGS) and _ABBREVIATION_AT_END.search(previous[-24:]):
        return True
    return (
        len(previous) > 1
        and previous[-1] in ".)"
        and previous[-2].isdecimal()
        and bool(_ENUMERATION_AT_END.search(previous[-8:]))
    )


_ABBREVIATIONS = (
    *("e.g", "i.e", "et al", "etc", "vs", "cf", "approx", "Fig", "Figs", "Eq", "Eqs", "Ref", "Refs", "Sec", "Tab"),
    *("resp", "viz"),
    # journal abbreviations, as in "J. Phys. A: Math. Gen." or "Phys. Rev. Lett."
    *("Phys", "Math", "Gen", "Rev", "Lett", "Nucl", "Astrophys", "Astron", "Proc", "Natl", "Acad", "Sci", "Chem"),
    *("Biol", "Appl", "Theor", "Comput", "Mech", "Stat", "Soc", "Opt", "Mol", "Commun", "Ann", "Trans", "Jpn"),
    *("Mod", "Eur", "Vol", "No", "pp"),
)
_ABBREVIATION_AT_END = re.compile(r"\b(?:" + "|".join(re.escape(a) for a in _ABBREVIATIONS) + r")\.$")
_ABBREVIATION_ENDINGS = tuple(a + "." for a in _ABBREVIATIONS)
# "contributions: 1." or a lone "2." / "(3)" that blingfire split off before the item's text
_ENUMERATION_AT_END = re.compile(r"(?:^|[:;]\s*)\(?\d{1,2}[.)]$")
