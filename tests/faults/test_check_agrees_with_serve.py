"""`paperbot check` fails exactly when the real `paperbot serve` (against the local fake Discord) cannot start.

Before the fix, a 0-byte index array made `serve` crash at start-up while `check` said
"index present and fresh", so a container's HEALTHCHECK stayed green.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bot.fake_discord import FakeDiscord
from tests.faults.store_helpers import GOOD_TOKEN, ROOT, cli, cli_args, copy_home, env, make_home
from tests.faults.test_index_damage import DAMAGE


@pytest.fixture(scope="module")
def base_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("check-serve") / "home")


@pytest.fixture
def home(base_home: Path, tmp_path: Path) -> Path:
    return copy_home(base_home, tmp_path)


async def serve(home: Path, pythonpath: str = str(ROOT), cwd: Path | None = None) -> tuple[int | None, str]:
    """Start `paperbot serve` on the fake Discord; stop it once it is ready. (exit code, log).

    The exit code is None when it started (and was then stopped by the test).
    """
    fake = FakeDiscord()
    await fake.start()
    environment = {
        **os.environ,
        "PYTHONPATH": pythonpath,
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
        cwd=cwd,
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


def _truncate(model: Path) -> None:
    model.write_text(model.read_text()[:1000])


def _alter(model: Path) -> None:
    """Still valid JSON with the right features, but every leaf doubled: it answers differently."""
    data = json.loads(model.read_text())
    for tree in data["trees"]:
        tree["leaf"] = [2 * value for value in tree["leaf"]]
    model.write_text(json.dumps(data))


@pytest.mark.parametrize("damage", [_truncate, _alter], ids=["truncated", "altered"])
def test_a_damaged_model_check_fails_and_serve_refuses_in_one_line(home: Path, tmp_path: Path, damage):
    """A damaged installed model file (here a copy of the package, first on the path) stops both."""
    shadow = tmp_path / "shadow"
    shutil.copytree(ROOT / "retrieval", shadow / "retrieval", ignore=shutil.ignore_patterns("__pycache__"))
    damage(shadow / "retrieval" / "answers" / "answerability_model.json")
    pythonpath = f"{shadow}{os.pathsep}{ROOT}"  # run from tmp_path, so the repo's own copy is not first

    def shadowed(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            cli_args(home, *args),
            capture_output=True,
            text=True,
            env={**env(), "PYTHONPATH": pythonpath},
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    check = shadowed("check")
    assert check.returncode == 1 and "problem: answer-or-abstain model" in check.stdout, check.stdout
    assert "reinstall paperbot" in check.stdout and "Traceback" not in check.stdout + check.stderr
    code, log = asyncio.run(serve(home, pythonpath, cwd=tmp_path))
    assert code not in (None, 0), log
    errors = [line for line in log.splitlines() if line.startswith("paperbot:")]
    assert "Traceback" not in log and len(errors) == 1 and "answer-or-abstain model" in errors[0], log
    if damage is _truncate:  # the CLI's `ask` reads the model on its first question: one line there too
        ask = shadowed("ask", "how do you train transformers without normalisation?")
        assert ask.returncode == 1 and "Traceback" not in ask.stdout + ask.stderr, ask.stderr
        assert len(ask.stderr.strip().splitlines()) == 1 and "answer-or-abstain model" in ask.stderr, ask.stderr


def test_healthy_models_are_reported_by_check(home: Path):
    check = cli(home, "check")
    assert check.returncode == 0 and "ok: models load and reproduce their check rows" in check.stdout
