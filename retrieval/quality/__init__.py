"""Measuring quality, never imported by the product: benchmark data in, retrieval and answer figures out.

`evaluate.py` holds the metrics (nDCG, recall, ROUGE) and finds the benchmark data; `benchmarks/`
runs the product over SciFact, SciTLDR and NQ-Open the way `paperbot eval` reports them.
"""
