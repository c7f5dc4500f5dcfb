import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.conftest import user_env

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
    env.update(user_env())  # the run's HOME, not the account's
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


@pytest.mark.parametrize(
    "spec", ["cs.LG", "hep-th", "astro-ph.CO", "cs.LG+cs.AI", "search:abs:DeepMind", "https://x.org/a"]
)
def test_accepted_feed_forms(spec, monkeypatch):
    monkeypatch.setenv("PAPERBOT_FEEDS", f"{spec}, cs.CL")
    assert Settings(_env_file=None).feeds == [spec, "cs.CL"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[[[", "PAPERBOT_FEEDS: expected comma-separated values (cs.LG,search:abs:DeepMind or 0,1) or a JSON list"),
        ("not a feed!!", "PAPERBOT_FEEDS: 'not a feed!!' is not a feed: expected a category (cs.LG"),
        ('["cs.LG", "search:"]', "PAPERBOT_FEEDS: 'search:' is not a feed"),
    ],
)
def test_a_bad_feeds_setting_names_the_variable_and_the_expected_form(value, expected, monkeypatch, tmp_path):
    from bot.settings import load_settings

    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("PAPERBOT_FEEDS", value)
    with pytest.raises(ValueError) as info:
        load_settings()
    assert str(info.value).startswith(expected) and "Value error" not in str(info.value)


def test_every_bad_setting_is_named_by_its_variable(monkeypatch, tmp_path):
    from bot.settings import load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHARD_COUNT", "0")
    monkeypatch.setenv("PAPERBOT_DIGEST_TIME", "25:99")
    with pytest.raises(ValueError) as info:
        load_settings()
    message = str(info.value)
    assert "SHARD_COUNT:" in message and "PAPERBOT_DIGEST_TIME:" in message and "\n" not in message


def test_arxiv_endpoints_in_a_dot_env_file_are_used_by_fetch_and_harvest(monkeypatch, tmp_path):
    """Validated from `.env` as from the environment, and then used, not only checked."""
    from bot.settings import load_settings
    from corpus import feeds

    for name in ("PAPERBOT_ARXIV_API_URL", "PAPERBOT_ARXIV_RSS_URL", "PAPERBOT_ARXIV_OAI_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "PAPERBOT_ARXIV_RSS_URL=http://127.0.0.1:9/rss\nPAPERBOT_ARXIV_OAI_URL=http://127.0.0.1:9/oai\n"
    )
    try:
        load_settings()
        assert feeds.rss_url() == "http://127.0.0.1:9/rss/" and feeds.oai_url() == "http://127.0.0.1:9/oai"
        assert feeds.FeedSource(spec="cs.LG").url == "http://127.0.0.1:9/rss/cs.LG"
        assert feeds.api_url() == feeds.API_URL  # not set anywhere: arXiv's own
        monkeypatch.setenv("PAPERBOT_ARXIV_OAI_URL", "http://127.0.0.1:8/oai")
        assert feeds.oai_url() == "http://127.0.0.1:8/oai"  # the environment, read at each call, comes first
    finally:
        feeds.configure_urls()


def test_harvest_reads_its_endpoint_from_a_dot_env_file(monkeypatch, tmp_path, capsys):
    """`harvest` loads the settings first: an arXiv OAI-PMH URL in `.env` is where it goes (here nowhere: refused)."""
    import functools

    import bot.cli.harvest
    import corpus.harvest
    from bot.cli import main
    from corpus import feeds

    waits = []  # the real backoff between its six tries (1 + 2 + … + 32 s) is not what this test is about
    monkeypatch.setattr(bot.cli.harvest, "harvest", functools.partial(corpus.harvest.harvest, sleep=waits.append))
    monkeypatch.delenv("PAPERBOT_ARXIV_OAI_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PAPERBOT_ARXIV_OAI_URL=http://127.0.0.1:9/oai\n")
    try:
        code = main(["harvest", "--max-pages", "1", "--delay", "0", "--home", str(tmp_path / "home")])
        err = capsys.readouterr().err
        assert code == 1 and "127.0.0.1:9" in err and "Traceback" not in err, err
        assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]  # it did retry, with its backoff
    finally:
        feeds.configure_urls()
