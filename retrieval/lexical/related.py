"""Papers like this one: its most informative terms as the query, the paper itself left out.

The query is the paper's own title and abstract terms weighed by tf × idf (the terms
that make it *this* paper rather than any paper), cut to the strongest `terms`; BM25 then
ranks the corpus against them as against any query. Nothing here is learned, so it works
on any corpus the index holds.
"""

from __future__ import annotations

from collections import Counter

from corpus.models import Paper
from retrieval.lexical.index import Hit, SearchIndex, document_text


def related_papers(paper: Paper, index: SearchIndex, k: int = 5, terms: int = 25) -> list[Hit]:
    """The k papers most like `paper` (never itself), best first."""
    counts = Counter(t for t in index.analyzer(document_text(paper)) if t in index.vocab)
    idf = index.scorer.idf
    weighted = sorted(counts, key=lambda t: -counts[t] * float(idf[index.vocab[t]]))[:terms]
    query = {index.vocab[t]: 1 for t in weighted if idf[index.vocab[t]] > 0}
    if not query:
        return []
    own = index.rows.get(paper.id)
    hits = [Hit(index.paper_ids[row], score) for row, score in index.scorer.top(query, k + 1) if row != own]
    return hits[:k]
