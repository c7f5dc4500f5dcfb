"""`eval`: the quality figures of the README, from the benchmarks in ../shared/data."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import Context, UserError, emit


def cmd_eval(args: argparse.Namespace, ctx: Context) -> int:
    from retrieval.evaluate import default_data_dir

    data_dir = Path(args.data) if args.data else default_data_dir()
    if not (data_dir / "scifact").is_dir():
        raise UserError(f"{data_dir}: no scifact/ folder here; pass --data PATH/TO/shared/data")
    if args.task == "retrieval":
        from retrieval.benchmarks import eval_retrieval

        result = eval_retrieval(data_dir, args.split)
    elif args.task == "evidence":
        from retrieval.benchmarks import eval_evidence

        result = eval_evidence(data_dir, args.split)
    elif args.task == "answerability":
        from retrieval.benchmarks import eval_answerability

        result = eval_answerability(data_dir)
    else:
        from retrieval.benchmarks import eval_tldr

        result = eval_tldr(data_dir, args.split)
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
    evaluate.add_argument("task", choices=["retrieval", "evidence", "tldr", "answerability"])
    evaluate.add_argument(
        "--split",
        default="test",
        help="retrieval: train|test; evidence: train|dev; tldr: train|dev|test; answerability: held-out sets only",
    )
    evaluate.add_argument("--data", help="the shared/data folder (default: ../shared/data beside the checkout)")
    evaluate.set_defaults(handler=cmd_eval)
