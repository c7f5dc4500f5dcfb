"""Retrieval, below the bot and above the corpus, in the order a question passes through it:

1. `lexical/`: the question analysed and ranked by BM25 (with word pairs, spelling, the on-disk index);
2. `semantic/`: optionally, BM25's top hits re-ordered with an embedding model;
3. `answers/`: answer or abstain, then sentences quoted with citations (and search results, TL;DRs, digests).

`quality/` measures all of it on benchmarks and is imported only by `paperbot eval` and the scripts under
`training/` and `bench/`. Nothing here imports `bot/` or Discord.
"""
