"""BM25 with rank-bm25's exact scores, served from term postings instead of a Python loop.

The score is rank_bm25.BM25Okapi's, written out once here:

    idf(t)      = ln(N - df(t) + 0.5) - ln(df(t) + 0.5), and for idf < 0: epsilon * mean idf
    score(q, d) = sum over query tokens t (repeats count) of
                  idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * len(d) / avgdl))

rank-bm25 evaluates that for every document and every query token in Python. Here
each term keeps a postings list (the documents that contain it and how often), so a
query touches only the documents that share a term with it. Raw term frequencies are
stored (not pre-multiplied weights) so adding documents, which moves avgdl and every
idf, never invalidates what is stored: the next query simply uses the new statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.lexical.analyzer import Analyzer


@dataclass(frozen=True)
class BM25Params:
    """rank-bm25's parameters. Defaults are the values tuned on SciFact train (README)."""

    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25


class Postings:
    """Term -> (documents, term frequencies) in compressed-sparse-row arrays, plus document lengths.

    Rows of `docs`/`tfs` between indptr[t] and indptr[t + 1] belong to term t; document
    numbers within a term are increasing. Dead documents (replaced by a newer version)
    stay in the arrays but are masked out of every statistic and every result.
    """

    def __init__(
        self,
        indptr: np.ndarray,
        docs: np.ndarray,
        tfs: np.ndarray,
        doc_len: np.ndarray,
        alive: np.ndarray,
        df: np.ndarray,
    ):
        self.indptr = indptr  # int64, n_terms + 1
        self.docs = docs  # int32
        self.tfs = tfs  # uint16 (counts are clipped at 65535)
        self.doc_len = doc_len  # int32 per document
        self.alive = alive  # bool per document
        self.df = df  # int64 per term, counting alive documents only

    @property
    def n_terms(self) -> int:
        return len(self.indptr) - 1

    @property
    def n_docs(self) -> int:
        return len(self.doc_len)

    @classmethod
    def empty(cls) -> Postings:
        return cls(
            np.zeros(1, np.int64),
            np.zeros(0, np.int32),
            np.zeros(0, np.uint16),
            np.zeros(0, np.int32),
            np.zeros(0, bool),
            np.zeros(0, np.int64),
        )

    @classmethod
    def from_flat(cls, term_ids: np.ndarray, lengths: np.ndarray, n_terms: int, first_doc: int = 0) -> Postings:
        """Postings for documents given as one flat array of term ids and each document's length.

        Documents are numbered from `first_doc`, so chunks built apart can be joined by `concat`.
        """
        lengths = np.asarray(lengths, dtype=np.int64)
        owner = np.repeat(np.arange(first_doc, first_doc + len(lengths), dtype=np.int64), lengths)
        keys, tf = np.unique(owner * max(n_terms, 1) + term_ids.astype(np.int64), return_counts=True)
        docs, terms = keys // max(n_terms, 1), keys % max(n_terms, 1)
        order = np.argsort(terms, kind="stable")  # stable: documents stay increasing within a term
        df = np.bincount(terms, minlength=n_terms).astype(np.int64)
        indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
        tfs = np.minimum(tf, 65535).astype(np.uint16)
        return cls(
            indptr, docs[order].astype(np.int32), tfs[order], lengths.astype(np.int32), np.ones(len(lengths), bool), df
        )

    @classmethod
    def concat(cls, parts: Sequence[Postings]) -> Postings:
        """Join postings whose documents follow each other, in one pass (a counting merge)."""
        n_terms = max(p.n_terms for p in parts)
        counts = [np.pad(np.diff(p.indptr), (0, n_terms - p.n_terms)) for p in parts]
        indptr = np.concatenate([[0], np.cumsum(np.sum(counts, axis=0))]).astype(np.int64)
        docs = np.empty(indptr[-1], np.int32)
        tfs = np.empty(indptr[-1], np.uint16)
        cursor = indptr[:-1].copy()
        df = np.zeros(n_terms, np.int64)
        for part, count in zip(parts, counts, strict=False):
            starts = np.pad(part.indptr[:-1], (0, n_terms - part.n_terms), constant_values=part.indptr[-1])
            target = np.arange(len(part.docs)) + np.repeat(cursor - starts, count)
            docs[target], tfs[target] = part.docs, part.tfs
            cursor += count
            df[: part.n_terms] += part.df
        return cls(
            indptr,
            docs,
            tfs,
            np.concatenate([p.doc_len for p in parts]),
            np.concatenate([p.alive for p in parts]),
            df,
        )

    def kill(self, rows: np.ndarray) -> None:
        """Mask out documents (an older version was replaced) and take them out of df."""
        rows = rows[self.alive[rows]]
        if len(rows) == 0:
            return
        self.alive[rows] = False
        hit = np.isin(self.docs, rows)
        positions = np.flatnonzero(hit)
        terms = np.searchsorted(self.indptr, positions, side="right") - 1
        self.df -= np.bincount(terms, minlength=self.n_terms)


def length_norm(doc_len: np.ndarray, alive: np.ndarray, params: BM25Params) -> tuple[int, float, np.ndarray]:
    """(alive documents, avgdl, k1 * (1 - b + b * len(d) / avgdl) for every document): the per-document part
    of the denominator, computed once per corpus state (here and by the on-disk build, so both agree exactly)."""
    n_docs = int(alive.sum())
    lengths = doc_len.astype(np.float64)
    avgdl = float(lengths[alive].sum() / n_docs) if n_docs else 1.0
    return n_docs, avgdl, params.k1 * (1 - params.b + params.b * lengths / avgdl)


def impacts_of(tfs: np.ndarray, docs: np.ndarray, norm: np.ndarray, k1: float) -> np.ndarray:
    """float32 tf-part of postings, tf*(k1+1)/(tf+norm[doc]), computed in float64 and rounded once."""
    tf = tfs.astype(np.float64)
    return (tf * (k1 + 1) / (tf + norm[docs])).astype(np.float32)


EXACT_POSTINGS = 20_000  # a query with at most this many postings is scored exactly in one pass (`_top_exact`)
EXACT_PARTS_MAX = 2_000_000  # postings: up to this many, `exact_parts` are kept (16 MB) for the one-pass path
_NO_ROWS = np.zeros(0, np.int64)
_NO_SCORES = np.zeros(0, np.float64)


class BM25Scorer:
    """Corpus statistics derived from postings, and the scoring loop over query terms."""

    def __init__(self, postings: Postings, params: BM25Params):
        self.postings = postings
        self.params = params
        self.n_docs, self.avgdl, self.norm = length_norm(postings.doc_len, postings.alive, params)
        self.idf = self._idf(postings.df)
        self.dead = np.flatnonzero(~postings.alive)  # rows of replaced versions, masked out of every result
        self._impacts: np.ndarray | None = None
        self._exact_parts: np.ndarray | None = None

    @property
    def impacts(self) -> np.ndarray:
        """float32 tf-part of every posting, tf*(k1+1)/(tf+norm[doc]): the fast first pass reads these.

        Computed on first use for this corpus state (a few seconds at a million abstracts),
        in chunks so the temporary float64 arrays stay small.
        """
        if self._impacts is None:
            postings = self.postings
            impacts = np.empty(len(postings.docs), np.float32)
            step = 1_000_000
            for start in range(0, len(impacts), step):
                impacts[start : start + step] = impacts_of(
                    postings.tfs[start : start + step], postings.docs[start : start + step], self.norm, self.params.k1
                )
            self._impacts = impacts
        return self._impacts

    @property
    def exact_parts(self) -> np.ndarray | None:
        """float64 tf-part of every posting, tf*(k1+1)/(tf+norm[doc]), exactly as `exact_scores` computes it,
        for an index of at most EXACT_PARTS_MAX postings (8 bytes each); None for a larger one."""
        if self._exact_parts is None and len(self.postings.docs) <= EXACT_PARTS_MAX:
            tf = self.postings.tfs.astype(np.float64)
            self._exact_parts = tf * (self.params.k1 + 1) / (tf + self.norm[self.postings.docs])
        return self._exact_parts

    def use_impacts(self, impacts: np.ndarray) -> None:
        """Impacts saved with the index for this same corpus state and parameters."""
        if len(impacts) != len(self.postings.docs) or impacts.dtype != np.float32:
            raise ValueError("impacts do not match these postings")
        self._impacts = impacts

    def _idf(self, df: np.ndarray) -> np.ndarray:
        present = df > 0
        idf = np.zeros(len(df), np.float64)
        counts = df[present].astype(np.float64)
        idf[present] = np.log(self.n_docs - counts + 0.5) - np.log(counts + 0.5)
        if present.any():
            floor = self.params.epsilon * idf[present].mean()
            idf[present & (idf < 0)] = floor
        return idf

    def scores(self, term_counts: dict[int, int]) -> np.ndarray:
        """Score every document for a query given as {term id: times it occurs in the query}."""
        postings, k1 = self.postings, self.params.k1
        scores = np.zeros(postings.n_docs, np.float64)
        for term, count in term_counts.items():
            if term >= postings.n_terms or self.idf[term] == 0:
                continue
            start, end = postings.indptr[term], postings.indptr[term + 1]
            docs = postings.docs[start:end]
            tf = postings.tfs[start:end].astype(np.float64)
            scores[docs] += (count * self.idf[term]) * (tf * (k1 + 1) / (tf + self.norm[docs]))
        if not postings.alive.all():
            scores[~postings.alive] = 0.0
        return scores

    def top(
        self, term_counts: dict[int, int], k: int, allowed: np.ndarray | None = None, margin: int = 32
    ) -> list[tuple[int, float]]:
        """The k best (row, exact score) pairs, best first, ties by row (`top_rows` as a list)."""
        rows, scores = self.top_rows(term_counts, k, allowed, margin)
        return list(zip(rows.tolist(), scores.tolist(), strict=True))

    def top_rows(
        self, term_counts: dict[int, int], k: int, allowed: np.ndarray | None = None, margin: int = 32
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best rows and their exact scores (float64, rank-bm25's formula), best first, ties by row.

        When the query's postings are few (EXACT_POSTINGS), every matching row is scored exactly at once.
        Otherwise a float32 pass over precomputed impacts picks k + margin candidates; each candidate
        is then scored exactly (float64) and the candidates re-ranked. float32 error is about 1e-7 of
        a score, so the true top k is inside the candidates unless more than `margin` documents tie with
        the k-th to within that error. Either way the result is `top_k` of the exact scores
        (tests/retrieval/test_bm25.py).
        """
        postings = self.postings
        ids = np.fromiter((t for t in term_counts if t < postings.n_terms), np.int64)
        ids = ids[self.idf[ids] != 0]  # (a term of no document now)
        if not len(ids) or k <= 0:
            return _NO_ROWS, _NO_SCORES
        terms = [(t, term_counts[t]) for t in ids.tolist()]
        spans = list(zip(postings.indptr[ids].tolist(), postings.indptr[ids + 1].tolist(), strict=True))
        if sum(end - start for start, end in spans) <= EXACT_POSTINGS:
            return self._top_exact(terms, spans, k, allowed)
        impacts = self.impacts
        approx = np.zeros(postings.n_docs, np.float32)
        for (term, count), (start, end) in zip(terms, spans, strict=True):
            # add.at: each row once per term, so the same sums as `approx[docs] += ...`, in one pass
            np.add.at(approx, postings.docs[start:end], np.float32(count * self.idf[term]) * impacts[start:end])
        if allowed is not None:
            approx[~allowed] = 0
        if len(self.dead):
            approx[self.dead] = 0
        wanted = k + margin
        candidates = self._above_threshold(approx, spans, wanted)
        if len(candidates) > wanted:
            best = np.argpartition(approx[candidates], len(candidates) - wanted)[len(candidates) - wanted :]
            candidates = np.sort(candidates[best])
        exact = self.exact_scores(terms, candidates)
        order = np.lexsort((candidates, -exact))[:k]
        order = order[exact[order] > 0]
        return candidates[order].astype(np.int64), exact[order]

    def _top_exact(
        self, terms: list[tuple[int, int]], spans: list[tuple[int, int]], k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`top_rows` for a query with few postings: the exact score of every row it matches, then the k best.

        The same float64 operations as `exact_scores`, term by term in the same order, so the same scores.
        """
        postings, k1 = self.postings, self.params.k1
        docs = np.concatenate([postings.docs[start:end] for start, end in spans])
        weight = np.repeat([count * self.idf[term] for term, count in terms], [end - start for start, end in spans])
        parts = self.exact_parts
        if parts is not None:
            part = np.concatenate([parts[start:end] for start, end in spans])
        else:
            tf = np.concatenate([postings.tfs[start:end] for start, end in spans]).astype(np.float64)
            part = tf * (k1 + 1) / (tf + self.norm[docs])
        # bincount adds each row's terms in the order given, from 0.0: exact_scores' sums, bit for bit
        scores = np.bincount(docs, weight * part, minlength=postings.n_docs)
        if allowed is not None:
            scores[~allowed] = 0.0
        if len(self.dead):
            scores[self.dead] = 0.0
        kth = np.partition(scores, len(scores) - k)[len(scores) - k] if len(scores) > k else 0.0
        # every row tied with the k-th (so ties go by row), or every row with a score when fewer than k have one
        candidates = np.flatnonzero(scores >= kth) if kth > 0 else np.flatnonzero(scores)
        found = scores[candidates]
        order = np.lexsort((candidates, -found))[:k]
        return candidates[order].astype(np.int64), found[order]

    def _above_threshold(self, approx: np.ndarray, spans: list[tuple[int, int]], wanted: int) -> np.ndarray:
        """Rows that can be in the top `wanted`, without sorting every matching row.

        Any `wanted` rows give a lower bound for the wanted-th best score; the rows of the
        rarest query terms are few and usually score high, so the bound is tight and one
        comparison pass over the scores leaves a handful of rows to partition.
        """
        docs = self.postings.docs
        pool: list[np.ndarray] = []
        size = 0
        for start, end in sorted(spans, key=lambda span: span[1] - span[0]):
            take = min(end - start, 4 * wanted - size)  # any rows give a bound: a common term's first few suffice
            pool.append(docs[start : start + take])
            size += take
            if size >= 4 * wanted:
                break
        sample = np.sort(np.concatenate(pool)) if len(pool) > 1 else pool[0]
        if len(pool) > 1:
            sample = sample[np.concatenate(([True], sample[1:] != sample[:-1]))]
        values = approx[sample]
        values = values[values > 0]
        if len(values) >= wanted:
            theta = np.partition(values, len(values) - wanted)[len(values) - wanted]
            return np.flatnonzero(approx >= theta)
        return np.flatnonzero(approx)

    def exact_scores(self, terms: list[tuple[int, int]], rows: np.ndarray) -> np.ndarray:
        """rank-bm25's score for a few rows (sorted), finding each row's tf by binary search in the postings.

        All terms at once, as (term, row) arrays: one binary search per term, then one gather and one formula
        for the whole table (term by term, these small steps cost ~0.3 ms of a 1 ms query at 100k papers).
        The rows are then summed term by term in the query's order from 0.0, as before: the same sums, bit for bit.
        """
        postings, k1 = self.postings, self.params.k1
        rows = np.asarray(rows)
        if not len(terms) or not len(rows) or not len(postings.docs):
            return np.zeros(len(rows), np.float64)
        needles = rows.astype(postings.docs.dtype, copy=False)  # the postings' own type: else each is converted
        ids = np.fromiter((term for term, _ in terms), np.int64, len(terms))
        starts, ends = postings.indptr[ids], postings.indptr[ids + 1]
        docs = postings.docs
        at = np.empty((len(terms), len(rows)), np.int64)
        for i, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            at[i] = np.searchsorted(docs[start:end], needles)
        at += starts[:, None]
        inside = at < ends[:, None]
        # a row past a term's last document has no tf there (`inside`); clipped only so that the gather stays in bounds
        np.minimum(at, np.minimum(np.maximum(ends - 1, starts), len(docs) - 1)[:, None], out=at)
        hit = inside & (docs[at] == needles)
        tf = np.where(hit, postings.tfs[at], 0).astype(np.float64)
        weights = np.fromiter((count for _, count in terms), np.float64, len(terms)) * self.idf[ids]
        parts = weights[:, None] * (tf * (k1 + 1) / (tf + self.norm[rows]))
        scores = np.zeros(len(rows), np.float64)
        for part in parts:
            scores += part
        return scores


def top_k(scores: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The k best (row, score) pairs of a full score array, best first, ties by row.

    The plain reference for `BM25Scorer.top`, which the tests hold to the same answer.
    """
    if allowed is not None:
        scores = np.where(allowed, scores, 0.0)
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > k:
        kth = -np.partition(-scores[candidates], k - 1)[k - 1]
        candidates = candidates[scores[candidates] >= kth]  # every row tied with the k-th, so ties go by row
    order = np.lexsort((candidates, -scores[candidates]))[:k]
    return [(int(candidates[i]), float(scores[candidates[i]])) for i in order]


def rank_bm25_reference(documents: Sequence[str], analyzer: Analyzer, params: BM25Params):
    """rank_bm25.BM25Okapi over the same analyzed documents: the definition our scores must match."""
    from rank_bm25 import BM25Okapi

    return BM25Okapi([analyzer(text) for text in documents], k1=params.k1, b=params.b, epsilon=params.epsilon)
