import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings

GOOD = "MTAxMDEwMTAxMDEwMTAxMDEw.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


def test_token_from_env_is_secret(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", GOOD)
    settings = Settings(_env_file=None)
    assert settings.token() == GOOD
    assert GOOD not in repr(settings) and GOOD not in str(settings.model_dump())


def test_token_from_file(tmp_path, monkeypatch):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    path = tmp_path / "token"
    path.write_text(GOOD + "\n")
    assert Settings(_env_file=None, DISCORD_TOKEN_FILE=str(path)).token() == GOOD


@pytest.mark.parametrize("token", ["", "not-a-token", "a.b.c"])
def test_missing_or_malformed_token_is_one_clear_line(token, monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", token)
    with pytest.raises(ValueError, match="DISCORD_TOKEN") as info:
        Settings(_env_file=None).token()
    assert token == "" or token not in str(info.value)


def test_shard_ids_from_a_list(monkeypatch):
    monkeypatch.setenv("SHARD_IDS", "0, 2")
    monkeypatch.setenv("SHARD_COUNT", "4")
    settings = Settings(_env_file=None)
    assert settings.shard_ids == [0, 2] and settings.shard_count == 4


@pytest.mark.parametrize("token", ["", "garbage"])
def test_serve_without_a_good_token_exits_2(tmp_path, token):
    root = str(Path(__file__).resolve().parents[2])  # importable whether or not the package is installed
    env = {"PATH": "/usr/bin:/bin", "DISCORD_TOKEN": token, "PAPERBOT_HOME": str(tmp_path), "PYTHONPATH": root}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "DISCORD_TOKEN" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
