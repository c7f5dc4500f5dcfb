"""Acronyms and their expansions, learnt from the corpus itself, so that either finds the same papers.

Abstracts define their acronyms as they go: "graph neural networks (GNNs)", "support vector machines (SVM)".
In the index's term sequences (retrieval/lexical/chunks.py) that is the acronym's term right after as many
terms as it has letters, each starting with its letter ("graph neural network gnn"; stop words are already
gone, so "bag of words (BoW)" is not found — a miss, never a wrong pair). The expansion of an acronym is the
run of terms that most often stands before it that way, in a sample of the papers using it (the Schwartz &
Hearst 2003 idea, on analyzed terms).

A query then also searches the form it did not type, at a fifth of a term's weight (`other_forms`): "GNN"
also finds the paper that only writes "graph neural networks", and "graph neural networks" the one that only
writes "GNN", while the papers that use the typed form still lead. Giving both forms the same bag (each at
half) found the same papers for a bare acronym and its expansion, but cost statements: SciTLDR train+dev
TLDRs' first paper 85.7% -> 85.2% (at a fifth, added form only: 85.6%); at full weight the other form
double-counted the concept (SciFact train nDCG@10 0.6975 -> 0.6806; at a fifth 0.6971, and 0.6983 -> 0.6992
with the word-pair order; `paperbot eval retrieval --split train`). Only BM25's bag changes; the query's own
terms (what the word-pair order and answer-or-abstain read) are left as typed.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

SHARE = 0.2  # the weight of the form of a concept the query did not type (a typed term weighs 1 a use)
SAMPLE = 32  # papers read per acronym: enough to outvote a stray match, bounded at any corpus size
MIN_LETTERS, MAX_LETTERS = 2, 6
_ACRONYM = re.compile(rf"(?<![\w-])[A-Z]{{{MIN_LETTERS},{MAX_LETTERS}}}s?(?![\w-])")


class Acronyms:
    """The expansions found so far in one index state, worked out on first use of each acronym."""

    def __init__(self, index):
        """`index`: a SearchIndex (not imported: it imports this), read at each use"""
        self.index = index  # read at each use: appending papers replaces its postings and term sequences
        self._found: dict[int, tuple[int, ...] | None] = {}
        self._word_terms: dict[str, list[int]] = {}  # an acronym as typed -> its term ids

    def expansion(self, acronym: int) -> tuple[int, ...] | None:
        """The term ids that spell out term `acronym` most often in the corpus, or None."""
        if acronym in self._found:
            return self._found[acronym]
        index = self.index
        letters, sequences, postings = index.terms[acronym], index.sequences, index.postings
        found = None
        if MIN_LETTERS <= len(letters) <= MAX_LETTERS and letters.isalpha() and len(sequences):
            rows = np.asarray(postings.docs[postings.indptr[acronym] : postings.indptr[acronym + 1]])[:SAMPLE]
            n, terms, votes = len(letters), index.terms, Counter()
            if len(rows):
                # the sampled papers' terms end to end: a run that straddles two papers rarely spells the letters, and is outvoted
                text = np.concatenate([sequences.of(row) for row in rows.tolist()])
                for at in (np.flatnonzero(text[n:] == acronym) + n).tolist():
                    run = tuple(text[at - n : at].tolist())
                    if all(terms[t][:1] == letter for t, letter in zip(run, letters, strict=True)):
                        votes[run] += 1
            if votes:
                found = votes.most_common(1)[0][0]
        self._found[acronym] = found
        return found

    def pairs(self, text: str, terms: list[str], analyzer) -> list[tuple[int, tuple[int, ...]]]:
        """(acronym, expansion) term ids for each acronym the query uses or spells out, as the corpus defines it."""
        vocab, found, known = self.index.vocab, [], self._word_terms
        for word in _ACRONYM.findall(text):
            if word not in known:
                known[word] = [t for t in (vocab.get(term) for term in analyzer(word)) if t is not None]
            for t in known[word]:
                spelled = self.expansion(t)
                if spelled:
                    found.append((t, spelled))
        ids = [vocab.get(t) for t in terms]
        initials = "".join(t[:1] for t in terms)
        for n in range(MIN_LETTERS, min(MAX_LETTERS, len(terms)) + 1):
            for start in range(len(terms) - n + 1):
                acronym = vocab.get(initials[start : start + n])
                if acronym is None:
                    continue
                run = ids[start : start + n]
                if None not in run and self.expansion(acronym) == tuple(run):
                    found.append((acronym, tuple(run)))
        return found


def other_forms(ids: dict[int, float], pairs: list[tuple[int, tuple[int, ...]]]) -> dict[int, float]:
    """The query's {term id: count} with the terms of the form it did not type added at SHARE."""
    added = {t: SHARE for acronym, spelled in pairs for t in (acronym, *spelled) if t not in ids}
    return {**ids, **added}
