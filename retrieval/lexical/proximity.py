"""Word pairs: BM25's top hits re-ordered by how many of the question's adjacent words they hold adjacent.

BM25 scores a bag of words: "graph neural network pruning" matches a paper on neural pruning that
mentions a graph as well as one about pruning graph neural networks. Phrases are what a description
of a paper repeats from it ("knowledge graph embedding", "catastrophic forgetting", "equilibrium
propagation"), so among BM25's best few, the paper that holds the question's word pairs *as pairs*
is more likely the one meant. The index keeps each paper's analyzed terms in order (`TermSequences`,
tokens.npy), so the pairs of the top DEPTH papers are read from it: no record read, nothing analyzed again.

    order score = BM25 score / the best BM25 score + WEIGHT × pair share

where the pair share is the question's adjacent term pairs found adjacent in the paper's title or
abstract, each pair weighed by the smaller idf of its two terms. Chosen on training data only
(README, "Retrieval"): on SciTLDR's train and dev TLDRs as queries hit@1 went 0.893 → 0.905 and
0.776 → 0.791; on SciFact's train claims the first paper is a gold abstract for 78.0% (77.6%) and
nDCG@10 is 0.6979 (0.6975); a larger weight (0.5, 1.0) helped TLDRs a little more and cost SciFact.
Scores shown stay BM25's; only the order of the top DEPTH changes.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

from corpus.models import Paper
from retrieval.lexical.index import Hit, SearchIndex

_PAIR = struct.Struct("<II")
DEPTH = 5  # the papers `ask` reads anyway; 10 or 20 ordered the first paper the same on the training sets
WEIGHT = 0.3


def question_pairs(question: str, index: SearchIndex) -> dict[tuple[str, str], float]:
    """The question's adjacent term pairs (stop words dropped first), each weighed by its rarer word's idf."""
    terms = index.analyzed(question).terms
    idf, vocab = index.scorer.idf, index.vocab
    weight = {t: float(idf[vocab[t]]) if t in vocab else 0.0 for t in terms}
    return {(a, b): min(weight[a], weight[b]) for a, b in zip(terms, terms[1:], strict=False) if a != b}


def pair_share(pairs: dict[tuple[str, str], float], terms: Sequence[str]) -> float:
    """Share of the pairs' weight found as adjacent terms in `terms` (a paper's analyzed text)."""
    total = sum(pairs.values())
    if total <= 0:
        return 0.0
    present = set(zip(terms, terms[1:], strict=False))
    return sum(w for pair, w in pairs.items() if pair in present) / total


def pair_shares(pairs: dict[tuple[str, str], float], rows: Sequence[int | None], index: SearchIndex) -> list[float]:
    """`pair_share` of each row's paper (None: not indexed, 0), read from the index's term sequences.

    Each pair is looked for as its 8 bytes (two little-endian uint32 term ids) at a 4-byte boundary of the
    paper's terms: a few hundred bytes, searched in C. The same sum as `pair_share` over the paper's
    analyzed text, in the same order, so the same number.
    """
    total = sum(pairs.values())
    if total <= 0:
        return [0.0] * len(rows)
    vocab = index.vocab
    patterns = [(_PAIR.pack(vocab[a], vocab[b]), n) for n, (a, b) in enumerate(pairs) if a in vocab and b in vocab]
    weights = list(pairs.values())
    of = index.sequences.of
    shares = []
    for row in rows:
        held = set()
        if row is not None and patterns:
            terms = of(row).astype("<u4", copy=False).tobytes()
            for pattern, n in patterns:
                at = terms.find(pattern)
                while at & 3 and at != -1:  # inside a term id: look further
                    at = terms.find(pattern, at + 1)
                if at != -1:
                    held.add(n)
        shares.append(sum(weights[n] for n in range(len(weights)) if n in held) / total)
    return shares


def by_pairs(question: str, hits: list[Hit], papers: Mapping[str, Paper] | None, index: SearchIndex) -> list[Hit]:
    """`hits` (BM25's, best first) with the top DEPTH re-ordered by the order score; the rest follow as they were.

    The pairs come from the index (`papers`, the records, are not needed and may be None).
    """
    head, tail = hits[:DEPTH], hits[DEPTH:]
    pairs = question_pairs(question, index)
    if len(head) < 2 or not pairs or head[0].score <= 0:
        return hits
    best = head[0].score
    shares = pair_shares(pairs, [index.rows.get(hit.paper_id) for hit in head], index)

    def order(item: tuple[int, Hit]) -> tuple[float, int]:
        rank, hit = item
        return (-(hit.score / best + WEIGHT * shares[rank]), rank)  # ties keep BM25's order

    return [hit for _, hit in sorted(enumerate(head), key=order)] + tail
