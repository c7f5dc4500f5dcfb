"""Misspelt question words, corrected against the corpus's own vocabulary.

People type questions in chat: "the continual learning prolem", "a variant of the negotation game",
"depth seperation". A misspelt word matches no abstract, so search loses it, and answer-or-abstain
counts it as the question's most informative *unmatched* word (it is unknown to English too) and
refuses. Here a word is corrected only when all of these hold:

- it has at least MIN_LETTERS letters (five-letter names such as "deion" or "junie" have too many real
  words one edit away) and is not a word this corpus holds;
- it is rare in English (`wordfreq` Zipf below MAX_ZIPF: a name like "tarkin" or a word like
  "filibuster" is left alone because English knows it, whatever the corpus holds);
- one edit away (a letter deleted, inserted, replaced, or two neighbours swapped) lies a word that is
  in the corpus *and* clearly commoner in English (LIFT Zipf points more, ten times as frequent),
  the one most abstracts use winning.

Candidates come from the corpus vocabulary only, so nothing is corrected towards a word no paper
uses. It changes 78 of SciTLDR's 3,445 train and dev TLDRs used as questions (README, "Answer or abstain").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path

from retrieval.lexical.analyzer import Analyzer, normalise

MIN_LETTERS = 6
MAX_ZIPF = 2.5
LIFT = 1.5
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WORD = re.compile(r"\b[^\W\d_]+\b")  # whole words of letters only: "resnet50" is left as it is


def edits1(word: str) -> set[str]:
    """Every string one edit from `word` (Damerau: deletion, transposition, replacement, insertion; a-z)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    out |= {a + c + b for a, b in splits for c in _LETTERS}
    out.discard(word)
    return out


@lru_cache(maxsize=100_000)
def english_zipf(word: str) -> float:
    """wordfreq's `zipf_frequency(word, "en")`; for a word of a-z only, read from its table directly.

    wordfreq's tokenizer turns such a word into itself, but setting the tokenizer up costs a fresh process
    about a quarter of a second; the arithmetic below is `_word_frequency`'s and `zipf_frequency`'s for
    one token (tests/retrieval/test_spelling.py holds the two equal).
    """
    if not (word.isascii() and word.isalpha() and word.islower()):
        from wordfreq import zipf_frequency

        return zipf_frequency(word, "en")
    floor = 1e-9  # zipf_to_freq(0): the least frequency zipf_frequency asks for
    freq = _english().get(word)
    if freq is None:
        return round(math.log(floor, 10) + 9, 2)
    freq = max(1.0 / (1.0 / freq), floor)
    freq = round(freq, math.floor(-math.log(freq, 10)) + 3)
    return round(math.log(freq, 10) + 9, 2)


@cache
def _english() -> dict[str, float]:
    """wordfreq's English word -> frequency table, as `get_frequency_dict("en", "best")` builds it.

    Read from wordfreq's own data file (its "large" English list, the one "best" names) when it is there:
    importing wordfreq costs a fresh process a third of a second (language tables, ftfy, its tokenizer)
    that nothing here needs; otherwise from wordfreq. tests/retrieval/test_spelling.py holds the two equal.
    """
    try:
        import gzip
        import importlib.util

        import msgpack

        spec = importlib.util.find_spec("wordfreq")
        folder = Path(next(iter(spec.submodule_search_locations)))  # type: ignore[union-attr, arg-type]
        with gzip.open(folder / "data" / "large_en.msgpack.gz", "rb") as handle:
            data = msgpack.load(handle, raw=False)
        header = data[0]
        if not isinstance(header, dict) or header.get("format") != "cB" or header.get("version") != 1:
            raise ValueError(f"unexpected header {header!r}")
        table: dict[str, float] = {}
        for index, bucket in enumerate(data[1:]):
            # wordfreq's cB_to_freq(-index) for each word of the bucket (a later bucket wins, as word by word)
            table.update(dict.fromkeys(bucket, 10 ** (-index / 100)))
        return table
    except (ImportError, OSError, ValueError, TypeError, AttributeError, StopIteration, IndexError):
        from wordfreq import get_frequency_dict

        return get_frequency_dict("en", "best")  # as wordfreq asks for it: its cache holds one table, not two


class Speller:
    """Corrects misspelt words of a question; `document_frequency(term)` is 0 for a term the corpus lacks.

    Corrections are cached per word until the vocabulary grows (`vocabulary_size()` changes); a question
    whose words were all seen before and need no correction costs one scan for its words and a set lookup.
    """

    def __init__(
        self, analyzer: Analyzer, document_frequency: Callable[[str], int], vocabulary_size: Callable[[], int]
    ):
        self.analyzer = analyzer
        self.df = document_frequency
        self.size = vocabulary_size
        self._cache: dict[str, str] = {}
        self._cached_at = -1
        self._as_typed: set[str] = set()  # words (as typed) seen and left unchanged, since the last reset

    def word(self, word: str) -> str:
        """The corrected form of one normalised (lower-case) word, or the word itself."""
        if len(word) < MIN_LETTERS or not word.isascii() or not word.isalpha():
            return word
        self._check_size()
        if word not in self._cache:
            self._cache[word] = self._correct(word)
        return self._cache[word]

    def _check_size(self) -> None:
        size = self.size()
        if size != self._cached_at:
            self._cache.clear()
            self._as_typed.clear()
            self._cached_at = size

    def _correct(self, word: str) -> str:
        term = self.analyzer.term_of(word)
        if not term or self.df(term) > 0:
            return word
        zipf = english_zipf(word)
        if zipf >= MAX_ZIPF:
            return word
        english = _english()
        least = 10 ** (zipf + LIFT - 9)  # a Zipf value is log10 of the frequency per billion words
        best: tuple[tuple[int, float, str], str] | None = None
        for candidate in edits1(word):
            common = english.get(candidate, 0.0)  # most edits are not words: skipped before stemming
            if common < least:
                continue
            known = self.analyzer.term_uncached(candidate)
            df = self.df(known) if known else 0
            if df <= 0:
                continue
            key = (df, common, candidate)  # the candidate itself breaks ties, so the result never varies
            if best is None or key > best[0]:
                best = (key, candidate)
        return best[1] if best else word

    def __call__(self, text: str) -> str:
        """`text` with each misspelt word replaced by its correction (the rest untouched)."""
        if not text:
            return text
        self._check_size()
        if self._as_typed.issuperset(_WORD.findall(text)):
            return text  # every word seen before and left as it is

        def fix(match: re.Match) -> str:
            original = match.group(0)
            corrected = self.word(normalise(original))
            if corrected == normalise(original):
                self._as_typed.add(original)
                return original
            return corrected

        return _WORD.sub(fix, text)
