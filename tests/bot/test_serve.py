"""`paperbot serve` as a process: logs its start, answers, and closes cleanly on SIGTERM and Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.bot.fake_discord import APP_ID, FakeDiscord

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


async def serve_and_stop(home: Path, sig: signal.Signals) -> tuple[int, str]:
    fake = FakeDiscord()
    await fake.start()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": TOKEN,
        "PAPERBOT_HOME": str(home),
        "PAPERBOT_DIGEST_RUNNER": "false",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bot.serve_runner",
        str(fake.port),
        env=env,
        cwd=str(home.parent),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await asyncio.wait_for(fake.ready.wait(), 60)
        await fake.wait_for(lambda r: r.method == "PUT" and r.path.endswith("/commands"), timeout=30)
        token = await fake.send_command("ask", {"question": "perceiver"})
        await fake.wait_for(
            lambda r: r.method == "POST" and r.path.startswith(f"/webhooks/{APP_ID}/{token}"), timeout=30
        )
        process.send_signal(sig)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
        return process.returncode, output.decode()
    finally:
        if process.returncode is None:
            process.kill()
        await fake.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_logs_start_and_stops_cleanly(tmp_path, sig):
    code, log = asyncio.run(serve_and_stop(tmp_path / "home", sig))
    assert code == 0, log
    assert "corpus: 13 papers; index loaded in" in log
    assert "stopping" in log and "Traceback" not in log
    assert TOKEN not in log
