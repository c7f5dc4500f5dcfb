"""The `paperbot` command line: one module per command group, one error boundary here.

Every command prints readable text by default and a pydantic-shaped JSON object with
--json. The boundary (`main`) promises: option values are checked by argparse (ranges in
--help); a known failure (user mistake, bad settings, locked or unreadable store, Discord
unreachable) is one line on stderr naming what to do; anything unexpected is one line
plus the file the full traceback was written to. Never a traceback on the terminal.
With --json the error is also printed on stdout as `{"error": "...", "code": N}`.
Exit status: 0 success, 1 failure, 2 usage or settings mistake, 130 on Ctrl-C (143 on SIGTERM):
a signal stops any command within 2 s, keeping what it committed and saying what it did
(bot/cli/interrupt.py). The settings are validated here, once, for every command; global
options (--home, --json) go before or after the command.
"""

# ruff: noqa: E402 - the imports after quiet_start() are meant to come after it

from __future__ import annotations

from bot.cli.interrupt import quiet_start

quiet_start()  # before the imports below (0.5 s): a Ctrl-C while starting is a quiet exit 130, not a traceback

import argparse
import datetime as dt
import os
import sqlite3
import sys
import tempfile
import traceback
from pathlib import Path

from pydantic import ValidationError

from bot.cli import digests, evaluate, harvest, interrupt, library, papers, query, service, vectors, waits
from bot.cli.common import EXIT_USAGE, Context, UserError, _settings, checked_home, cut, error_json
from bot.intake import valid_args
from corpus.home import resolve_home
from corpus.loaders import LoadError
from corpus.store import StoreError
from retrieval.errors import ModelUnusable

COMMAND_GROUPS = (query, papers, library, harvest, evaluate, vectors, service, digests)
NO_STORE = {"eval", "serve", "sync", "check", "model"}  # commands that open the home themselves, or not at all
MESSAGE_LIMIT = 500  # characters: an error is one line, not a page
OWN_SIGNALS = {"serve", "sync"}  # the bot closes its Discord session on SIGINT/SIGTERM itself


class Parser(argparse.ArgumentParser):
    """argparse that raises a UserError (one line, exit 2) instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{cut(message, 300)} (see `{self.prog} --help`)", EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help="paperbot's data folder (default: $PAPERBOT_HOME or the user data dir)",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help='print JSON instead of text (errors: {"error": "...", "code": N})',
    )

    parser = Parser(prog="paperbot", description="Answers questions about research-paper abstracts, with citations.")
    # the global options again, so they work before the command too (`paperbot --json corpus`); the command's
    # own copies default to SUPPRESS so that they never overwrite a value given before the command
    parser.add_argument("--home", default=None, help="paperbot's data folder (also after the command)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text (also after the command)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for group in COMMAND_GROUPS:
        group.register(commands, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = valid_args(sys.argv[1:] if argv is None else list(argv))  # the door: no stage sees invalid Unicode
    as_json = "--json" in argv
    try:
        return _boundary(argv, as_json)
    except KeyboardInterrupt:  # a signal while the boundary itself was printing
        return interrupt.report()


def _boundary(argv: list[str], as_json: bool) -> int:
    try:
        return _run(argv)
    except KeyboardInterrupt:
        return interrupt.report()
    except BaseException as exc:
        if interrupt.requested():  # whatever the signal broke on its way out (a store statement, a worker pool)
            return interrupt.report()
        if not isinstance(exc, Exception):
            raise
        return _failure(exc, as_json)


def _failure(exc: Exception, as_json: bool) -> int:
    """The one line (and exit status) for an exception that reached the boundary."""
    try:
        raise exc
    except UserError as exc:
        return _fail(str(exc), exc.code, as_json)
    except (StoreError, LoadError, ModelUnusable) as exc:
        return _fail(str(exc), 1, as_json)
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            message = (
                "the paper store is locked by another paperbot process (a running `serve`, `fetch` or `ingest`?):"
                " wait for it to finish and retry"
            )
        else:
            message = f"the paper store cannot be used ({exc}): run `paperbot check` (see README, Troubleshooting)"
        return _fail(message, 1, as_json)
    except PermissionError as exc:
        return _fail(f"permission denied: {exc.filename or exc}: check the folder's owner and mode", 1, as_json)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "value"
        return _fail(f"{field}: {error['msg']}", EXIT_USAGE, as_json)
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except Exception as exc:  # noqa: BLE001 - the boundary: one line here, the traceback in a file
        where = _save_traceback()
        return _fail(
            f"unexpected error ({type(exc).__name__}: {cut(str(exc))}); the full traceback is in {where};"
            " please report it with that file",
            1,
            as_json,
        )


def _run(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else 0
    if not getattr(args, "command", None):
        if args.json:  # `paperbot --json` alone: the promised error object, not the help text
            raise UserError("no command given: e.g. paperbot --json corpus (see `paperbot --help`)", EXIT_USAGE)
        parser.print_help()
        return EXIT_USAGE
    _settings()  # every setting checked the same way for every command: a bad one is one line, exit 2
    with interrupt.handling(args.command not in OWN_SIGNALS), waits.announcing_urllib():
        return _dispatch(args)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in NO_STORE and getattr(args, "task", "") != "feedback":  # eval feedback asks this home
        return args.handler(args, None)
    check = getattr(args, "check_args", None)
    if check is not None:  # options that are wrong together: refused before the home is opened or created
        check(args)
    home = checked_home(resolve_home(args.home))
    ctx = Context(home)  # a new home says so once, from open_store (which knows it seeded it, under a lock)
    try:
        return args.handler(args, ctx)
    finally:
        ctx.store.close()


def _fail(message: str, code: int, as_json: bool) -> int:
    """One line on stderr; with --json also the error object on stdout (which may already hold batch lines)."""
    line = cut(" ".join(message.split()), MESSAGE_LIMIT)
    print(f"paperbot: {line}", file=sys.stderr)
    if as_json:
        try:
            print(error_json(line, code), flush=True)
        except (BrokenPipeError, ValueError):
            pass
    return code


def _save_traceback() -> str:
    """Write the current exception's traceback to a file in the temp dir; its path (or why it could not)."""
    folder = Path(tempfile.gettempdir()) / "paperbot"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"traceback-{stamp}-{os.getpid()}.txt"
    try:  # it must never fail: any text (a lone surrogate too) is written, escaped if need be
        folder.mkdir(parents=True, exist_ok=True)
        report = f"paperbot {' '.join(sys.argv)}\n\n{traceback.format_exc()}"
        path.write_text(report, encoding="utf-8", errors="backslashreplace")
    except Exception as exc:  # noqa: BLE001 - the boundary's last resort says why instead of failing
        return f"(nowhere: {path} could not be written: {getattr(exc, 'strerror', None) or type(exc).__name__})"
    return str(path)


def _silence_stdout() -> None:
    """After a closed pipe (`paperbot search x | head -1`), keep Python's exit flush from complaining."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
