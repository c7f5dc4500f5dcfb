"""Run one digest pass of the real bot against the fake Discord at a port (a child process of test_digest)."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path

import discord
import yarl

from bot.main import make_bot
from bot.settings import Settings

TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


async def main(home: Path, port: int, when: dt.datetime) -> None:
    discord.http.Route.BASE = f"http://127.0.0.1:{port}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"ws://127.0.0.1:{port}/")
    bot = make_bot(Settings(_env_file=None, DISCORD_TOKEN=TOKEN, PAPERBOT_DIGEST_RUNNER=False), home)
    bot._connection.guild_ready_timeout = 0.05  # the fake has one guild: do not wait 2 s for more
    runner = asyncio.create_task(bot.start(TOKEN))
    await asyncio.wait_for(bot.wait_until_ready(), 60)
    posted = await bot.get_cog("Digests").poster.run_due(now=when, fetch=False)
    print(f"posted {posted}", flush=True)
    await bot.close()
    await runner


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), dt.datetime.fromisoformat(sys.argv[3])))
