"""Stage 1, lexical search: a question's text in, BM25's ranked hits out.

The analyzer (`analyzer.py`) turns text into terms, with misspelt words corrected against the corpus
(`spelling.py`); BM25 (`bm25.py`, the formula in one place) scores them over postings kept in the
index (`index.py` in memory, `saved.py` on disk, `build.py` for building a big one straight to disk,
`sync.py` keeping it in step with the store; both builds analyze texts a chunk at a time, `chunks.py`).
Its top hits may be re-ordered by adjacent word pairs (`proximity.py`) or by the switchable second stage
(`rerank.py`); `related.py` ranks papers like a paper.
"""
