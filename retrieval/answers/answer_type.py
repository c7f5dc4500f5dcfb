"""What kind of answer a question wants, and whether a sentence gives that kind.

A reader asking "how many parameters…" wants a number, "what is X" a definition, "how do
you…" a method. Among sentences that are about the question equally, the one of the
wanted kind is the better answer. The rules are plain patterns over English questions
and abstract sentences; a statement (a claim, a TLDR) wants no particular kind, so the
SciFact and SciTLDR figures do not move with them.
"""

from __future__ import annotations

import re

_WANTS = (
    (
        "quantity",
        re.compile(
            r"^\W*(how (much|many|fast|large|big|long|small|accurate|well|often)|"
            r"what (is|was|are|were) the (accuracy|percentage|rate|number|size|speed|score|error|cost|performance)|"
            r"(what|which) (accuracy|percentage|score|speed-?up|error rate))\b",
            re.IGNORECASE,
        ),
    ),
    ("definition", re.compile(r"^\W*(what (is|are)( an?| the)? [\w-]+( [\w-]+)?\W*$|define |definition of )", re.I)),
    (
        "method",
        re.compile(
            r"^\W*(how (do|does|can|could|should|did|to|is|are|would)|what (method|approach|technique)s?)\b", re.I
        ),
    ),
)
_GIVES = {
    "quantity": re.compile(r"\d|\b(twice|half|double|triple|percent|fold)\b", re.IGNORECASE),
    "definition": re.compile(
        r"\b(is|are) (an?|the) |\brefers? to\b|\bwe (define|call|term|introduce|describe|present)\b|\bis defined\b|"
        r"\bknown as\b|, an? [\w-]+ (\w+ )?(for|that|which|of)\b",
        re.IGNORECASE,
    ),
    "method": re.compile(
        r"\bwe (propose|present|introduce|develop|use|train|apply|show how)\b|\bby (using|\w+ing)\b|"
        r"\b(method|approach|technique|algorithm|procedure|scheme)\b",
        re.IGNORECASE,
    ),
}


def wanted_kind(question: str) -> str | None:
    """'quantity', 'definition', 'method', or None for a question that asks for no particular kind."""
    for kind, pattern in _WANTS:
        if pattern.search(question):
            return kind
    return None


def gives(kind: str | None, sentence: str) -> bool:
    return kind is not None and bool(_GIVES[kind].search(sentence))
