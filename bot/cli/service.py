"""`check`, `serve` and `sync`: running the bot and knowing whether it can run."""

from __future__ import annotations

import argparse

from bot.cli.common import EXIT_USAGE, Context, UserError, _settings, checked_home, cut
from corpus.home import resolve_home


def cmd_check(args: argparse.Namespace, ctx: Context | None) -> int:
    from bot.check import run_checks

    try:
        settings = _settings()
    except UserError as exc:
        if args.json:
            from bot.cli.common import error_json

            print(error_json(str(exc), 1))
        else:
            print(f"problem: {exc}")
        return 1
    home = checked_home(resolve_home(args.home or settings.home))
    report = run_checks(home, settings, need_token=not args.no_token, deep=args.deep)
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

    settings = _ready_settings()
    code = _reaching_discord(lambda: serve(_home(args, settings), settings, sync="force" if args.sync else "auto"))
    if args.json:
        print(f'{{"stopped": true, "code": {code}}}')
    return code


def cmd_sync(args: argparse.Namespace, ctx: Context | None) -> int:
    from bot.main import sync_once

    settings = _ready_settings()
    code = _reaching_discord(lambda: sync_once(_home(args, settings), settings))
    if args.json:
        print(f'{{"synced": {"true" if code == 0 else "false"}, "code": {code}}}')
    return code


def _ready_settings():
    """Settings with a token that has the right shape, or one line and exit 2 before anything starts."""
    settings = _settings()
    try:
        settings.token()
    except ValueError as exc:
        raise UserError(str(exc), EXIT_USAGE) from None
    return settings


def _home(args: argparse.Namespace, settings) -> object:
    return checked_home(resolve_home(args.home or settings.home))


def _reaching_discord(run) -> int:
    """Run serve/sync; Discord unreachable, refusing the token or failing is one line naming what to do.

    discord.py lets aiohttp's connection errors (a DNS failure offline, a refused
    connection, a timeout) escape from login with a ~60-line traceback; they end here.
    Other OSErrors (an unwritable home) are not Discord's and go to the CLI's boundary.
    """
    import socket

    import aiohttp
    import discord

    try:
        return run()
    except discord.LoginFailure:
        raise UserError(
            "Discord refused the token (DISCORD_TOKEN): reset it in the developer portal", EXIT_USAGE
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise UserError("Discord refused the gateway intents: paperbot needs no privileged intent; update it") from None
    except (
        aiohttp.ClientConnectionError,
        ConnectionError,
        socket.gaierror,
        TimeoutError,
        discord.GatewayNotFound,
    ) as exc:
        raise UserError(
            f"cannot reach Discord ({type(exc).__name__}: {cut(str(exc))}): check the network, a proxy or firewall,"
            " and https://discordstatus.com; nothing was changed"
        ) from None
    except (discord.DiscordServerError, discord.ConnectionClosed) as exc:
        raise UserError(f"Discord failed ({cut(str(exc))}): try again in a few minutes") from None
    except discord.HTTPException as exc:
        raise UserError(
            f"Discord refused a request ({exc.status}: {cut(exc.text or '')}): check the bot's invite scopes"
            " (bot, applications.commands) and permissions"
        ) from None


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    check = commands.add_parser("check", parents=[common], help="health check: settings, store, index, token")
    check.add_argument("--no-token", action="store_true", help="do not require DISCORD_TOKEN (CLI-only installs)")
    check.add_argument(
        "--deep", action="store_true", help="SQLite's integrity_check and every record read back (slower)"
    )
    check.set_defaults(handler=cmd_check)

    serve = commands.add_parser("serve", parents=[common], help="run the Discord bot (needs DISCORD_TOKEN)")
    serve.add_argument("--sync", action="store_true", help="sync slash commands even if unchanged")
    serve.set_defaults(handler=cmd_serve)

    sync = commands.add_parser("sync", parents=[common], help="sync the slash commands with Discord now, then exit")
    sync.set_defaults(handler=cmd_sync)
