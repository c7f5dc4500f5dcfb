"""`paperbot check` fails exactly when the real `paperbot serve` (against the local fake Discord) cannot start.

Before the fix, a 0-byte index array made `serve` crash at start-up while `check` said
"index present and fresh", so a container's HEALTHCHECK stayed green.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.bot.fake_discord import FakeDiscord
from tests.faults.store_helpers import GOOD_TOKEN, ROOT, cli, copy_home, make_home
from tests.faults.test_index_damage import DAMAGE


@pytest.fixture(scope="module")
def base_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("check-serve") / "home")


@pytest.fixture
def home(base_home: Path, tmp_path: Path) -> Path:
    return copy_home(base_home, tmp_path)


async def serve(home: Path) -> tuple[int | None, str]:
    """Start `paperbot serve` on the fake Discord; stop it once it is ready. (exit code, log).

    The exit code is None when it started (and was then stopped by the test).
    """
    fake = FakeDiscord()
    await fake.start()
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": GOOD_TOKEN,
        "PAPERBOT_HOME": str(home),
        "PAPERBOT_DIGEST_RUNNER": "false",
        "PAPERBOT_SEMANTIC": "false",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bot.serve_runner",
        str(fake.port),
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        ready = asyncio.create_task(fake.ready.wait())
        exited = asyncio.create_task(process.wait())
        done, _ = await asyncio.wait({ready, exited}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        assert done, "serve neither started nor stopped within 60 s"
        started = ready in done and exited not in done
        ready.cancel()
        if started:
            process.terminate()
        output, _ = await asyncio.wait_for(process.communicate(), 30)
        return (None if started else process.returncode), output.decode()
    finally:
        if process.returncode is None:
            process.kill()
        await fake.stop()


def test_a_damaged_index_check_passes_and_serve_starts(home: Path):
    DAMAGE["0-byte docs.npy"](home)
    check = cli(home, "check")
    assert check.returncode == 0 and "warning: index" in check.stdout and "fresh" not in check.stdout
    code, log = asyncio.run(serve(home))
    assert code is None, log  # serve started: it rebuilt the index
    assert log.count("rebuilding it from the store") == 1 and "Traceback" not in log, log


def test_a_vanished_store_check_fails_and_serve_refuses_in_one_line(home: Path):
    (home / "papers.sqlite3").unlink()
    check = cli(home, "check")
    assert check.returncode == 1 and "problem: store" in check.stdout
    code, log = asyncio.run(serve(home))
    assert code not in (None, 0), log
    errors = [line for line in log.splitlines() if line.startswith("paperbot:")]
    assert "Traceback" not in log and len(errors) == 1 and "missing or empty" in errors[0], log
    assert not (home / "papers.sqlite3").exists()  # not re-seeded
