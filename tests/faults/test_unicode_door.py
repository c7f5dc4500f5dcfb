"""Text that is not valid Unicode is made so at the door, and the crash report can never fail (issue #25, case 2).

Before the fix, `paperbot ask $'perceiver \\xff attention'` with the semantic stage installed printed two
chained tracebacks and exit 1: the encoder's `TypeError: TextEncodeInput must be ...`, then the crash-report
writer failing on '\\udcff' and leaving a 0-byte report. On Discord the same text got "Something went wrong".
Real processes for the CLI (arguments as raw bytes); the real discord.py client on the fake Discord.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from bot.cli import _save_traceback
from tests.bot.fake_discord import CHANNEL_ID
from tests.faults.discord_harness import bot_on_fake
from tests.faults.store_helpers import ROOT, make_home, no_traceback

pytest.importorskip("tokenizers", reason="the crash came from the semantic stage's tokenizer")
BAD_BYTES = b"perceiver \xff attention"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("unicode") / "home")


def raw_cli(home: Path, *args: bytes, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """The CLI with arguments passed as bytes, as a shell passes $'\\xff'; the semantic stage on (the default)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PAPERBOT_LOG_LEVEL": "WARNING"}
    env.pop("PAPERBOT_SEMANTIC", None)
    argv = [sys.executable.encode(), b"-m", b"bot.cli", *args, b"--home", str(home).encode()]
    return subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=180, check=False)


@pytest.mark.parametrize("command", [b"ask", b"search"])
def test_an_argument_with_bytes_that_are_not_utf8_is_answered(home: Path, command: bytes):
    result = raw_cli(home, command, BAD_BYTES)
    out, err = result.stdout.decode(), result.stderr.decode()
    no_traceback((out, err))
    assert result.returncode == 0, err
    assert "Perceiver" in out, out
    assert "unexpected error" not in err


def test_a_batch_file_with_invalid_bytes_and_escaped_surrogates_is_answered(home: Path, tmp_path: Path):
    batch = tmp_path / "questions.jsonl"
    batch.write_bytes(b'{"id": "a", "text": "perceiver \xff attention"}\n{"id": "b", "text": "perceiver \\udcff io"}\n')
    for source, stdin in ((str(batch).encode(), None), (b"-", batch.read_bytes())):
        result = raw_cli(home, b"search", b"--batch", source, b"--k", b"1", stdin=stdin)
        no_traceback((result.stdout.decode(), result.stderr.decode()))
        assert result.returncode == 0, result.stderr.decode()
        rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
        assert [row["id"] for row in rows] == ["a", "b"] and all(row["hits"] for row in rows), rows


def test_the_crash_report_writer_never_fails(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(sys, "argv", ["paperbot", "ask", "perceiver \udcff attention"])
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    try:
        raise TypeError("a message with a lone surrogate \udcff in it")
    except TypeError:
        where = _save_traceback()
    report = Path(where)
    assert report.is_file() and report.stat().st_size > 0
    text = report.read_text(encoding="utf-8")
    assert "perceiver \\udcff attention" in text and "TypeError" in text
    (tmp_path / "blocked").write_text("a file where the report folder would go")
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path / "blocked"))
    try:
        raise TypeError("again")
    except TypeError:
        assert _save_traceback().startswith("(nowhere: ")


async def discord_questions(home: Path) -> None:
    async with bot_on_fake(home) as (fake, bot):
        posted = lambda: fake.posted(CHANNEL_ID)  # noqa: E731
        # json.dumps sends the lone surrogate escaped ("\udcff"), as Discord may
        await fake.send_mention("what is perceiver \udcff attention?")
        deadline = time.monotonic() + 60
        while not posted() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        [reply] = posted()
        assert reply["embeds"] and "went wrong" not in (reply.get("content") or ""), reply
        answer = await fake.reply_for(await fake.send_command("ask", {"question": "perceiver \udcff attention"}))
        assert "went wrong" not in (answer.get("content") or ""), answer
        assert answer["embeds"], answer


def test_discord_text_with_a_lone_surrogate_is_answered(tmp_path: Path):
    asyncio.run(discord_questions(tmp_path / "home"))
