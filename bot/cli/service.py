"""`check`, `serve` and `sync`: running the bot and knowing whether it can run."""

from __future__ import annotations

import argparse

from bot.cli.common import Context, UserError, _settings
from corpus.home import resolve_home


def cmd_check(args: argparse.Namespace, ctx: Context | None) -> int:
    from bot.check import run_checks

    try:
        settings = _settings()
    except UserError as exc:
        print(f"problem: {exc}")
        return 1
    report = run_checks(resolve_home(args.home or settings.home), settings, need_token=not args.no_token)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        for line in report.ok:
            print(f"ok: {line}")
        for line in report.warnings:
            print(f"warning: {line}")
        for line in report.problems:
            print(f"problem: {line}")
    return 0 if report.healthy else 1


def cmd_serve(args: argparse.Namespace, ctx: Context | None) -> int:
    from bot.main import serve

    settings = _settings()
    return serve(resolve_home(args.home or settings.home), settings, sync="force" if args.sync else "auto")


def cmd_sync(args: argparse.Namespace, ctx: Context | None) -> int:
    from bot.main import sync_once

    settings = _settings()
    return sync_once(resolve_home(args.home or settings.home), settings)


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    check = commands.add_parser("check", parents=[common], help="health check: settings, store, index, token")
    check.add_argument("--no-token", action="store_true", help="do not require DISCORD_TOKEN (CLI-only installs)")
    check.set_defaults(handler=cmd_check)

    serve = commands.add_parser("serve", parents=[common], help="run the Discord bot (needs DISCORD_TOKEN)")
    serve.add_argument("--sync", action="store_true", help="sync slash commands even if unchanged")
    serve.set_defaults(handler=cmd_serve)

    sync = commands.add_parser("sync", parents=[common], help="sync the slash commands with Discord now, then exit")
    sync.set_defaults(handler=cmd_sync)
