"""Sentence splitting against SciFact's gold splits: how many abstracts come back exactly as given.

    python bench/sentences.py

Each SciFact abstract is joined from its gold sentences with single spaces and split
again; we count exact sentence matches (precision/recall of sentences) and time it.
pysbd is measured too when installed (`pip install pysbd`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus.text import split_sentences  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl"


def score(split) -> dict:
    records = [json.loads(line) for line in DATA.read_text().splitlines()]
    correct = predicted = gold = exact = 0
    started = time.perf_counter()
    for record in records:
        sentences = [s.strip() for s in record["sentences"] if s.strip()]
        got = split(" ".join(sentences))
        correct += len(set(got) & set(sentences))
        predicted += len(got)
        gold += len(sentences)
        exact += got == sentences
    ms = (time.perf_counter() - started) * 1000 / len(records)
    return {
        "abstracts": len(records),
        "exact_abstracts": round(exact / len(records), 4),
        "sentence_precision": round(correct / predicted, 4),
        "sentence_recall": round(correct / gold, 4),
        "ms_per_abstract": round(ms, 3),
    }


def main() -> None:
    print("paperbot (blingfire + abbreviation rule):", json.dumps(score(split_sentences)))
    try:
        import pysbd
    except ImportError:
        return
    segmenter = pysbd.Segmenter(language="en", clean=False)
    print("pysbd:", json.dumps(score(lambda text: [s.strip() for s in segmenter.segment(text) if s.strip()])))


if __name__ == "__main__":
    main()
