"""Stage 2, optional: BM25's top hits in, the same hits in fused order (BM25 blended with embeddings) out.

`encoder.py` finds and runs all-MiniLM-L6-v2 (int8 ONNX, no torch); `vectors.py` keeps each paper's
vector under the home and encodes new papers in the background; `stage.py` fuses the cosines with
BM25's scores; `fetch.py` downloads and checks the official model. Without a model installed, every
question skips this stage and is answered from BM25's order.
"""
