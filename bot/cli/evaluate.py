"""`eval`: the quality figures of the README, from the benchmarks in ../shared/data."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import EXIT_USAGE, Context, UserError, cut, emit

# Each task's splits and the file that holds a split, relative to the data folder.
SPLITS: dict[str, dict[str, str]] = {
    "retrieval": {split: f"scifact/qrels/{split}.tsv" for split in ("train", "test")},
    "evidence": {split: f"scifact/claims_{split}.jsonl" for split in ("train", "dev")},
    "tldr": {split: f"scitldr/{split}.jsonl" for split in ("train", "dev", "test")},
}
DEFAULT_SPLIT = {"retrieval": "test", "evidence": "dev", "tldr": "test"}
# Tasks without a --split: they read fixed held-out sets.
FIXED = {"answerability": ("nq_open/dev.jsonl", "scifact/claims_dev.jsonl", "scitldr/test.jsonl")}
TASKS = [*SPLITS, *FIXED]
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
    if args.task == "retrieval":
        from retrieval.quality.benchmarks import eval_retrieval

        result = eval_retrieval(folder, split)
    elif args.task == "evidence":
        from retrieval.quality.benchmarks import eval_evidence

        try:
            result = eval_evidence(folder, split, semantic=bool(args.semantic))
        except ValueError as exc:  # --semantic without the model or the vectors: says which and what to run
            raise UserError(str(exc)) from None
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
    evaluate.add_argument("task", choices=[*TASKS, "feedback"])
    evaluate.add_argument("file", nargs="?", help="feedback: the file `paperbot feedback export --json` wrote")
    evaluate.add_argument(
        "--split",
        help="; ".join(f"{task}: {'|'.join(s)} (default {DEFAULT_SPLIT[task]})" for task, s in SPLITS.items())
        + "; answerability: none (held-out sets only)",
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
        help="evidence, answerability, feedback: answer through the semantic stage (evidence and answerability need"
        " the benchmark's vectors: python -m retrieval.semantic eval-vectors); `retrieval` always reports both",
    )
    evaluate.set_defaults(handler=cmd_eval)
