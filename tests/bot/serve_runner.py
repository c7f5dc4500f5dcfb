"""`paperbot serve` exactly as the CLI runs it, pointed at the fake Discord on a port (for test_serve)."""

from __future__ import annotations

import sys

import discord
import yarl

from bot.cli import main

if __name__ == "__main__":
    port = int(sys.argv[1])
    discord.http.Route.BASE = f"http://127.0.0.1:{port}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"ws://127.0.0.1:{port}/")
    sys.exit(main(["serve", *sys.argv[2:]]))
