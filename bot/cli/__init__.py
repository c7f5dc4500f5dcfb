"""The `paperbot` command line: one module per command group, one error boundary here.

Every command prints readable text by default and a pydantic-shaped JSON object with
--json. User mistakes (unknown id, empty query, unreadable file) end with one line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from bot.cli import digests, evaluate, harvest, papers, query, service
from bot.cli.common import EXIT_USAGE, Context, UserError
from corpus.home import resolve_home
from corpus.loaders import LoadError
from corpus.store import StoreError

COMMAND_GROUPS = (query, papers, harvest, evaluate, service, digests)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help="paperbot's data folder (default: $PAPERBOT_HOME or the user data dir)",
    )
    common.add_argument("--json", action="store_true", help="print JSON instead of text")

    parser = argparse.ArgumentParser(
        prog="paperbot", description="Answers questions about research-paper abstracts, with citations."
    )
    parser.add_argument("--home", default=None, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(commands, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        needs_store = args.command not in {"eval", "serve", "sync", "check"}
        ctx = Context(resolve_home(args.home)) if needs_store else None
        try:
            return args.handler(args, ctx)
        finally:
            if ctx:
                ctx.store.close()
    except UserError as exc:
        print(f"paperbot: {exc}", file=sys.stderr)
        return exc.code
    except (StoreError, LoadError) as exc:
        print(f"paperbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
