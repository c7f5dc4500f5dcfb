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
ROUGE_HINT = "pip install 'paperbot[eval]' (from a checkout: pip install '.[eval]')"


def data_dir(given: str | None) -> Path:
    """--data, else the first place the benchmarks are found; one line naming the places looked in."""
    from retrieval.evaluate import data_dir_candidates, find_data_dir

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


def cmd_eval(args: argparse.Namespace, ctx: Context) -> int:
    splits = SPLITS.get(args.task)
    split = args.split or DEFAULT_SPLIT.get(args.task, "test")
    if splits is not None and split not in splits:
        raise UserError(
            f"--split {cut(split, 40)!r} is not a split of `eval {args.task}`: choose one of {', '.join(splits)}",
            EXIT_USAGE,
        )
    folder = data_dir(args.data)
    if splits is not None and not (folder / splits[split]).is_file():
        raise UserError(f"{folder / splits[split]} is missing: `eval {args.task} --split {split}` reads it")
    if args.task == "retrieval":
        from retrieval.benchmarks import eval_retrieval

        result = eval_retrieval(folder, split)
    elif args.task == "evidence":
        from retrieval.benchmarks import eval_evidence

        result = eval_evidence(folder, split)
    else:
        try:
            import rouge_score  # noqa: F401 - only to say what to install before the long run
        except ImportError:
            raise UserError(f"`eval tldr` scores with ROUGE, which is not installed: {ROUGE_HINT}") from None
        from retrieval.benchmarks import eval_tldr

        result = eval_tldr(folder, split)
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
    evaluate.add_argument("task", choices=list(SPLITS))
    evaluate.add_argument(
        "--split",
        help="; ".join(f"{task}: {'|'.join(s)} (default {DEFAULT_SPLIT[task]})" for task, s in SPLITS.items()),
    )
    evaluate.add_argument(
        "--data",
        metavar="DIR",
        help="the benchmark folder holding scifact/ and scitldr/ (default: ../shared/data beside the checkout,"
        " or shared/data beside or under the working folder)",
    )
    evaluate.set_defaults(handler=cmd_eval)
