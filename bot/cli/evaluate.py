"""`eval`: the quality figures of the README, from the benchmarks in ../shared/data."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import BaseModel

from bot.cli.common import EXIT_USAGE, Context, UserError, cut, emit

# Each task's splits and the file that holds a split, relative to the data folder.
SPLITS: dict[str, dict[str, str]] = {
    "retrieval": {split: f"scifact/qrels/{split}.tsv" for split in ("train", "test")},
    "evidence": {split: f"scifact/claims_{split}.jsonl" for split in ("train", "dev")},
    "tldr": {split: f"scitldr/{split}.jsonl" for split in ("train", "dev", "test")},
}
DEFAULT_SPLIT = {"retrieval": "test", "evidence": "dev", "tldr": "test"}
# Tasks without a --split: they read fixed held-out sets (`vectors`: the corpora the semantic figures rank).
FIXED = {
    "answerability": ("nq_open/dev.jsonl", "scifact/claims_dev.jsonl", "scitldr/test.jsonl"),
    "vectors": ("scifact/corpus.jsonl",),
    # questions as researchers type them, over every SciTLDR paper (out of fold: retrieval/quality/natural.py)
    "natural": ("natural_questions/questions.jsonl", "scitldr/train.jsonl", "scitldr/dev.jsonl", "scitldr/test.jsonl"),
}
TASKS = [*SPLITS, *FIXED]
SCITLDR_SPLITS = ("train", "dev", "test")  # every SciTLDR paper: the corpus `eval answerability` asks
ROUGE_HINT = "pip install 'paperbot[eval]' (from a checkout: pip install '.[eval]')"


def data_dir(given: str | None) -> Path:
    """--data, else the first place the benchmarks are found; one line naming the places looked in."""
    from retrieval.quality.evaluate import data_dir_candidates, find_data_dir

    if given:
        path = Path(given).expanduser()
        if not (path / "scifact").is_dir():
            raise UserError(
                f"--data {cut(given)}: no scifact/ folder there; give the folder that holds scifact/ and scitldr/"
                " (the project's shared/data)",
                EXIT_USAGE,
            )
        return path
    found = find_data_dir()
    if found is None:
        looked = ", ".join(str(p) for p in data_dir_candidates())
        raise UserError(
            f"no benchmark data found (looked in {looked}): pass --data DIR, the folder that holds scifact/ and"
            " scitldr/",
            EXIT_USAGE,
        )
    return found


def needed_files(task: str, split: str | None) -> list[str]:
    """The data files a task reads, after refusing a split the task does not have (with the list of its splits)."""
    if task in FIXED:
        if split is not None:
            raise UserError(f"`eval {task}` takes no --split: it reads its held-out sets", EXIT_USAGE)
        return list(FIXED[task])
    splits = SPLITS[task]
    if split not in splits:
        raise UserError(
            f"--split {cut(split or '', 40)!r} is not a split of `eval {task}`: choose one of {', '.join(splits)}",
            EXIT_USAGE,
        )
    return [splits[split]]


def cmd_eval(args: argparse.Namespace, ctx: Context) -> int:
    if args.task == "feedback":
        return _eval_feedback(args, ctx)
    split = args.split if args.split is not None or args.task in FIXED else DEFAULT_SPLIT[args.task]
    files = needed_files(args.task, split)
    folder = data_dir(args.data)
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise UserError(f"{folder / missing[0]} is missing: `eval {args.task}` reads it")
    if args.task == "vectors":
        return _eval_vectors(args, folder)
    if args.task == "retrieval":
        from retrieval.quality.benchmarks import eval_retrieval

        result = eval_retrieval(folder, split)
    elif args.task == "evidence":
        from retrieval.quality.benchmarks import eval_evidence

        try:
            result = eval_evidence(folder, split, semantic=bool(args.semantic))
        except ValueError as exc:  # --semantic without the model or the vectors: says which and what to run
            raise UserError(str(exc)) from None
    elif args.task == "natural":
        from retrieval.quality.natural import eval_natural, table

        try:
            result = eval_natural(folder, semantic=bool(args.semantic))
        except ValueError as exc:
            raise UserError(str(exc)) from None
        emit(args, result, lambda: table(result) + f"\nsemantic: {result.semantic}")
        return 0
    elif args.task == "answerability":
        from retrieval.quality.benchmarks import eval_answerability

        try:
            result = eval_answerability(folder, semantic=bool(args.semantic))
        except ValueError as exc:
            raise UserError(str(exc)) from None
    else:
        try:
            import rouge_score  # noqa: F401 - only to say what to install before the long run
        except ImportError:
            raise UserError(f"`eval tldr` scores with ROUGE, which is not installed: {ROUGE_HINT}") from None
        from retrieval.quality.benchmarks import eval_tldr

        result = eval_tldr(folder, split)
    emit(args, result, lambda: "\n".join(_flat_lines(result.model_dump())))
    return 0


class EvalVectorsOut(BaseModel):
    model: str
    folder: str
    corpora: dict[str, int]  # papers of each benchmark corpus
    encoded: int
    missing: int  # papers still without a vector (0 once a run has finished)
    seconds: float


def _eval_vectors(args: argparse.Namespace, folder: Path) -> int:
    """Encode the benchmark corpora the semantic figures rank into the eval cache, with progress.

    SciFact's abstracts (`eval retrieval`'s `fused`, `eval evidence --semantic`), and SciTLDR's papers and the
    bundled ones (`eval answerability --semantic`), when their files are there. Vectors already made are kept.
    """
    import time

    from bot.cli.vectors import encode_missing, load_model
    from corpus.home import bundled_papers
    from corpus.loaders import load_path
    from retrieval.quality.benchmarks import eval_vectors_home
    from retrieval.semantic.vectors import VectorStore, content_hash

    started = time.perf_counter()
    encoder = load_model()  # no model: one line before minutes of reading
    corpora = {"scifact": load_path(folder / "scifact" / "corpus.jsonl")}
    scitldr = [folder / "scitldr" / f"{split}.jsonl" for split in SCITLDR_SPLITS]
    if all(path.is_file() for path in scitldr):
        corpora["scitldr"] = [paper for path in scitldr for paper in load_path(path)]
    corpora["bundled"] = bundled_papers()
    papers = {p.id: (p.title, p.abstract) for group in corpora.values() for p in group}
    vectors = VectorStore.for_model(eval_vectors_home(), encoder.model_id)
    rows = [(paper_id, title, abstract) for paper_id, (title, abstract) in papers.items()]
    encoded = encode_missing(vectors, encoder, rows, "abstracts")
    missing = len(vectors.missing((paper_id, content_hash(*text)) for paper_id, text in papers.items()))
    out = EvalVectorsOut(
        model=encoder.model_id,
        folder=str(vectors.folder),
        corpora={name: len(group) for name, group in corpora.items()},
        encoded=encoded,
        missing=missing,
        seconds=round(time.perf_counter() - started, 1),
    )

    def text() -> str:
        counts = ", ".join(f"{name} {n}" for name, n in out.corpora.items())
        done = f"encoded {encoded} abstracts in {out.seconds:.1f} s" if encoded else "nothing to encode"
        lines = [f"{done}; {counts}: {len(papers) - missing} of {len(papers)} have a vector ({out.model})"]
        if "scitldr" not in corpora:
            lines.append(
                f"no {folder / 'scitldr'}/{{train,dev,test}}.jsonl: `eval answerability --semantic` needs them"
            )
        lines.append(f"folder: {out.folder}")
        return "\n".join(lines)

    emit(args, out, text)
    return 0 if not missing else 1


def _eval_feedback(args: argparse.Namespace, ctx: Context) -> int:
    """Score the current build (this home's index and models) on exported votes."""
    from pydantic import ValidationError

    from corpus.feedback import FeedbackSet
    from retrieval.quality.benchmarks import eval_feedback

    if not args.file:
        raise UserError(
            "give the votes file: paperbot feedback export --json > votes.json; paperbot eval feedback votes.json", 2
        )
    try:
        votes = FeedbackSet.model_validate_json(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{args.file}: cannot read it ({exc})") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "file"
        raise UserError(
            f"{args.file}: {where}: {error['msg']}; expected what `paperbot feedback export --json` writes"
        ) from None
    from bot.cli.query import semantic_stage

    result = eval_feedback(votes, ctx.index, ctx.store, semantic_stage(args, ctx) if args.semantic else None)
    emit(args, result, lambda: "\n".join(_flat_lines(result.model_dump())))
    return 0


def _flat_lines(data: dict, prefix: str = "") -> list[str]:
    """`key: value` lines, nested figures as `outer.inner: value` (the JSON form keeps the nesting)."""
    lines = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines += _flat_lines({k: v for k, v in value.items() if k not in ("split", "queries")}, f"{prefix}{key}.")
        else:
            lines.append(f"{prefix}{key}: {value}")
    return lines


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    evaluate = commands.add_parser("eval", parents=[common], help="measure quality on the benchmarks in ../shared/data")
    evaluate.add_argument(
        "task",
        choices=[*TASKS, "feedback"],
        help="vectors: encode the corpora the semantic figures rank (SciFact's 5,183 abstracts, SciTLDR's 3,229"
        " papers, the bundled 13; 10-20 minutes on two cores, resumed where it stopped) into the eval cache"
        " ($PAPERBOT_EVAL_CACHE or the per-user cache), for `retrieval`'s fused figures and --semantic",
    )
    evaluate.add_argument("file", nargs="?", help="feedback: the file `paperbot feedback export --json` wrote")
    evaluate.add_argument(
        "--split",
        help="; ".join(f"{task}: {'|'.join(s)} (default {DEFAULT_SPLIT[task]})" for task, s in SPLITS.items())
        + "; answerability, natural, vectors: none (fixed sets; every corpus)",
    )
    evaluate.add_argument(
        "--data",
        metavar="DIR",
        help="the benchmark folder holding scifact/ and scitldr/ (default: ../shared/data beside the checkout,"
        " or shared/data beside or under the working folder)",
    )
    evaluate.add_argument(
        "--semantic",
        action="store_true",
        help="evidence, answerability, natural, feedback: answer through the semantic stage (evidence and answerability need"
        " the benchmark's vectors: paperbot eval vectors); `retrieval` always reports both",
    )
    evaluate.set_defaults(handler=cmd_eval)
