"""Text to index terms: the same analyzer for documents and queries.

Measured on SciFact's train claims (figures in the README): stemming and stop words
matter most. Compound scientific tokens (ResNet-50, GPT-4, 86.5%, 2403.05530) are
split into their parts, so "ResNet-50" and "resnet 50" both
match on the parts; keeping the whole token as an extra term (`compounds=True`)
measured slightly worse (nDCG@10 0.691 vs 0.696 on train) and is off by default.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

# Lucene's EnglishAnalyzer list plus the commonest function words of abstracts.
STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can cannot could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not of off on once only or other our ours ourselves out over own same she should so some such
    than that the their theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours yourself
    yourselves""".split()
)

# A token: letters/digits, optionally joined by - . / : (ResNet-50, 2403.05530, hep-th/9901001), optional %.
_TOKEN = re.compile(r"\w+(?:[-./:+]\w+)*%?")
_PART = re.compile(r"\w+")
# British spellings folded into American ones before stemming, so "normalisation" finds
# "normalization" and "tumour" finds "tumor". Applied to documents and queries alike, a
# rule that also rewrites an unrelated word ("precise" -> "precize") changes nothing.
_SPELLING = [
    (re.compile(r"(?<=[a-z]{3})is(ation|ations|ing|ed|er|ers|es|e)$"), r"iz\1"),
    (re.compile(r"(?<=[a-z]{2}[^aeiou])our(s|ed|ing|al|ally)?$"), r"or\1"),
    (re.compile(r"(?<=[a-z]{3})tre(s)?$"), r"ter\1"),
    (re.compile(r"^(h|an|leuk|septic|isch|hyper|hypo|ur|gl)aem"), r"\1em"),
    (
        re.compile(r"^(o)esoph|^oestr|^foet|^paed|^orthopaed|^gynaec|^faec|^anaesth|^haem"),
        lambda m: m.group(0).replace("ae", "e").replace("oe", "e"),
    ),
]
MAX_QUERY_CHARS = 2000
# Plural acronyms fold to their singular before case is lost: "CNNs" -> "CNN", "LLMs" -> "LLM"
# (299 SciTLDR abstracts write one; "CNNs" would otherwise never match "CNN").
# Written without the leading \b, which stops re's fast scan for the first [A-Z] (2.6x slower over
# abstracts); `_singular` checks that boundary instead, so the result is the same.
_PLURAL_ACRONYM = re.compile(r"([A-Z][A-Z0-9]*[A-Z])s\b")
_WORD_CHAR = re.compile(r"\w")
# Contractions are mostly stop words ("aren't", "doesn't", "it's"); possessives keep their noun.
# Without this "aren't" became the terms `aren` + `t`, which no abstract holds.
_IRREGULAR_NEGATION = re.compile(r"\b(ca|wo|sha)n't\b")
_CONTRACTION = re.compile(r"n't\b|'(?:s|re|ve|ll|d|m)\b")


def normalise(text: str) -> str:
    """Unicode NFKC, plural acronyms folded, contractions dropped, then case-folded."""
    text = unicodedata.normalize("NFKC", text)
    if "s" in text:
        text = _PLURAL_ACRONYM.sub(_singular, text)
    text = text.casefold()
    if "'" in text or "\u2019" in text:
        text = text.replace("\u2019", "'")
        text = _IRREGULAR_NEGATION.sub(lambda m: {"ca": "can", "wo": "will", "sha": "shall"}[m.group(1)], text)
        text = _CONTRACTION.sub("", text)
    return text


def _singular(match: re.Match) -> str:
    """Singular of a plural acronym ("CNNs" -> "CNN"), unless the match starts inside a word (as \\b checks)."""
    start = match.start()
    if start and _WORD_CHAR.match(match.string, start - 1):
        return match.group(0)
    return match.group(1)


# ASCII bytes: word characters (\w: letters, digits, _) kept, everything else a space.
_ASCII_WORDS = bytes(c if chr(c).isalnum() or c == ord("_") else ord(" ") for c in range(128)) + bytes(128)


def words_of_normalised(text: str) -> list[str] | list[bytes]:
    """`_PART.findall(text)`; for ASCII text the same words as bytes, found by translate + split (2.5x faster)."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_WORDS).split()
    return _PART.findall(text)


class Analyzer:
    """Normalise, tokenise, drop stop words, stem. Call it on text to get its terms."""

    def __init__(
        self, stem: bool = True, stop_words: frozenset[str] = STOP_WORDS, compounds: bool = False, spelling: bool = True
    ):
        self.stem = stem
        self.spelling = spelling
        self.stop_words = stop_words
        self.compounds = compounds
        self._stemmer = Stemmer.Stemmer("english")
        self._term = lru_cache(maxsize=200_000)(self._term_uncached)
        self._words = _WordCache(self._word_uncached)

    def config(self) -> dict:
        """What must match between an index on disk and the analyzer that reads it."""
        return {
            "stem": self.stem,
            "stop_words": len(self.stop_words),
            "compounds": self.compounds,
            "spelling": self.spelling,
            "version": 2,
        }

    def _term_uncached(self, token: str) -> str:
        if self.spelling:
            for pattern, replacement in _SPELLING:
                token = pattern.sub(replacement, token)
        return self._stemmer.stemWord(token) if self.stem else token

    def _word_uncached(self, word: str) -> str:
        return "" if word in self.stop_words else self._term(word)

    def term_of(self, word: str) -> str:
        """The term for one normalised word from `words()`; '' for a stop word."""
        return self._words[word]

    def term_uncached(self, word: str) -> str:
        """`term_of` without remembering the word: for one-off candidates (spelling corrections) that
        would otherwise fill the caches meant for the corpus's words."""
        return "" if word in self.stop_words else self._term_uncached(word)

    def words(self, text: str) -> list[str]:
        """The normalised words of `text` before stop words and stemming (the plain-word fast path)."""
        return _PART.findall(normalise(text))

    def __call__(self, text: str) -> list[str]:
        text = normalise(text)
        if not self.compounds:
            # the hot path for indexing: plain words, each mapped once through a dict cache
            return [term for term in map(self._words.__getitem__, _PART.findall(text)) if term]
        terms: list[str] = []
        for match in _TOKEN.finditer(text):
            token = match.group()
            parts = _PART.findall(token)
            if len(parts) > 1 or token.endswith("%"):
                if self.compounds:
                    terms.append(token)  # kept whole, unstemmed: "resnet-50", "86.5%"
                terms.extend(self._term(p) for p in parts if p not in self.stop_words)
            elif token not in self.stop_words:
                terms.append(self._term(token))
        return terms


class _WordCache(dict):
    """word -> term ('' for a stop word), computed on first sight. Vocabularies are small; texts are not."""

    def __init__(self, compute):
        super().__init__()
        self._compute = compute

    def __missing__(self, word: str) -> str:
        term = self[word] = self._compute(word)
        return term


def clip_query(text: str) -> str:
    """Queries longer than MAX_QUERY_CHARS are cut there: a longer one is a paste, not a question."""
    return text[:MAX_QUERY_CHARS]
