"""The semantic stage's steps: fetch a model, encode a home's papers, encode the benchmark's."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from retrieval.semantic.encoder import ModelUnavailable, load_encoder
from retrieval.semantic.fetch import OFFICIAL_BASE, fetch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.semantic", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("fetch", help="download the official all-MiniLM-L6-v2 ONNX model and check it")
    get.add_argument("--dest", required=True, type=Path, help="folder to put model.onnx, tokenizer.json in")
    get.add_argument("--base-url", default=OFFICIAL_BASE)
    get.add_argument("--sha256", help="the SHA-256 the hub shows for onnx/model.onnx")
    build = sub.add_parser("build", help="encode the papers of a home that have no vector yet, with progress")
    build.add_argument("--home", type=Path, help="paperbot's home (default: PAPERBOT_HOME or the per-user folder)")
    ev = sub.add_parser("eval-vectors", help="encode SciFact's abstracts once for `paperbot eval retrieval`")
    ev.add_argument("--data", type=Path, help="the benchmark data folder (default: ../shared/data)")
    args = parser.parse_args(argv)
    try:
        if args.command == "eval-vectors":
            return eval_vectors(args.data)
        if args.command == "fetch":
            folder = fetch(args.dest, args.base_url, args.sha256)
            print(f"model checked and ready in {folder}; set PAPERBOT_EMBED_MODEL={folder}")
        else:
            return build_home(args.home)
    except (OSError, ModelUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def eval_vectors(data: Path | None) -> int:
    """Encode the SciFact corpus into the eval cache (progress on stderr), so `eval retrieval` reports `fused`."""
    from corpus.loaders import load_path
    from retrieval.quality.benchmarks import _eval_stage
    from retrieval.quality.evaluate import default_data_dir

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    corpus = (data or default_data_dir()) / "scifact" / "corpus.jsonl"
    if not corpus.is_file():
        raise ModelUnavailable(f"{corpus}: not found; pass --data PATH/TO/shared/data")
    _, status = _eval_stage(load_path(corpus), encode=True)
    print(status)
    return 0


def build_home(home: Path | None) -> int:
    """Encode every paper of the home without a vector (what the bot does in the background), progress on stderr."""
    from corpus.home import open_store, resolve_home
    from retrieval.semantic.vectors import VectorBuilder, VectorStore

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    folder = resolve_home(home)
    encoder = load_encoder()
    store = open_store(folder)
    try:
        vectors = VectorStore.for_model(folder, encoder.model_id)
        builder = VectorBuilder(vectors, encoder, lambda: [(p.id, p.title, p.abstract) for p in store.papers()])
        done = builder.build_once()
    finally:
        store.close()
    print(f"{done} papers encoded; {len(vectors)} vectors in {vectors.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
