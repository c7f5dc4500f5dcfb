"""Issue #14's table, row by row: each mistake gives one correct line (or the right result), never a traceback.

In-process through `bot.cli.main` on a fresh home; Discord and arXiv are 127.0.0.1 addresses
(a closed port, or a local HTTP server started here), never the network.
"""

from __future__ import annotations

import io
import json
import socket
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import discord
import pytest
import yarl

import corpus.feeds
from bot.cli import main
from tests.conftest import FIXTURES, user_env

GOOD_TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
GEMINI_QUESTION = "how do you train transformers without normalisation?"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    """The error line (a fresh home adds its one "created a new home" line first)."""
    lines = [line for line in err.splitlines() if not line.startswith("paperbot: created a new home")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when we return: connecting is refused at once


@pytest.fixture
def no_env(monkeypatch, home):
    """No settings from the developer's environment or a .env file."""
    for name in ("DISCORD_TOKEN", "DISCORD_TOKEN_FILE", "PAPERBOT_FEEDS", "PAPERBOT_HOME", "PAPERBOT_FETCH_DELAY"):
        monkeypatch.delenv(name, raising=False)
    home.parent.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(home.parent)


@pytest.mark.parametrize("k", ["101", "0", "-1", "ten"])
def test_search_k_out_of_range_is_a_usage_line(capsys, home, k):
    code, out, err = run(capsys, "search", "model", "--k", k, "--home", str(home))
    assert code == 2 and out == ""
    assert "argument --k:" in one_line(err) and ("1..100" in err or "whole number" in err)


@pytest.mark.parametrize(
    ("option", "value", "bounds"),
    [("--max-chars", "50", "80..4000"), ("--max-sentences", "0", "1..10"), ("--max-sentences", "1000", "1..10")],
)
def test_ask_options_out_of_range_are_usage_lines(capsys, home, option, value, bounds):
    code, _, err = run(capsys, "ask", "x", option, value, "--home", str(home))
    assert code == 2 and bounds in one_line(err)


def test_help_shows_the_ranges(capsys):
    assert main(["search", "--help"]) == 0
    assert "1..100" in capsys.readouterr().out
    assert main(["ask", "--help"]) == 0
    out = capsys.readouterr().out
    assert "80..4000" in out and "1..10" in out


@pytest.mark.parametrize("budget", [80, 100, 150, 600])
def test_max_chars_is_never_exceeded(capsys, home, budget):
    data = json.loads(run(capsys, "ask", GEMINI_QUESTION, "--max-chars", str(budget), "--json", "--home", str(home))[1])
    texts = [s["text"] for s in data["answer"]]
    assert data["found"] and sum(len(t) for t in texts) + len(texts) - 1 <= budget
    cited = {s["citation"] for s in data["answer"]}
    assert {c["n"] for c in data["citations"]} == cited  # no reference without its sentence
    code, out, _ = run(capsys, "ask", GEMINI_QUESTION, "--max-chars", str(budget), "--home", str(home))
    body = out.split("\n\n")[0]
    assert code == 0 and len(body.replace(" [1]", "").replace(" [2]", "").replace(" [3]", "")) <= budget


def test_a_first_sentence_longer_than_the_budget_is_cut_at_a_word(capsys, home):
    data = json.loads(run(capsys, "ask", GEMINI_QUESTION, "--max-chars", "100", "--json", "--home", str(home))[1])
    (sentence,) = data["answer"]
    assert sentence["text"].endswith("…") and len(sentence["text"]) <= 100
    abstract = json.loads(run(capsys, "paper", data["citations"][0]["paper_id"], "--json", "--home", str(home))[1])
    assert sentence["text"][:-1] in abstract["paper"]["abstract"]  # a verbatim prefix, cut between words
    assert (
        abstract["paper"]["abstract"][
            abstract["paper"]["abstract"].index(sentence["text"][:-1]) + len(sentence["text"]) - 1
        ]
        == " "
    )


@pytest.fixture
def unreachable_discord(monkeypatch):
    port = closed_port()
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{port}/api/v10")
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(f"ws://127.0.0.1:{port}/"))
    monkeypatch.setenv("DISCORD_TOKEN", GOOD_TOKEN)


@pytest.mark.parametrize("command", ["serve", "sync"])
def test_serve_and_sync_with_discord_unreachable_say_so_in_one_line(capsys, home, no_env, unreachable_discord, command):
    code, out, err = run(capsys, command, "--home", str(home), "--json")
    assert code == 1 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("paperbot:")]
    assert len(lines) == 1 and "cannot reach Discord" in lines[0] and "check the network" in lines[0]
    assert json.loads(out)["error"].startswith("cannot reach Discord")


def test_a_token_of_the_wrong_shape_stops_serve_before_connecting(capsys, home, no_env, monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "not-a-token")
    code, out, err = run(capsys, "serve", "--home", str(home), "--json")
    assert code == 2 and "DISCORD_TOKEN is malformed" in one_line(err)
    assert json.loads(out)["code"] == 2


def fake_benchmarks(root: Path) -> Path:
    """A three-paper SciFact-shaped folder, enough for `eval retrieval --data`."""
    scifact = root / "scifact"
    (scifact / "qrels").mkdir(parents=True)
    docs = [
        ("1", "Vitamin D and bone density", "Vitamin D supplements increase bone density in older adults."),
        ("2", "Sleep and memory", "Sleep deprivation impairs memory consolidation in students."),
        ("3", "Coffee and heart rate", "Caffeine raises heart rate for two hours after intake."),
    ]
    scifact.joinpath("corpus.jsonl").write_text(
        "".join(json.dumps({"id": i, "title": t, "abstract": a}) + "\n" for i, t, a in docs)
    )
    claims = [("q1", "vitamin D improves bone density"), ("q2", "lack of sleep harms memory")]
    scifact.joinpath("queries.jsonl").write_text(
        "".join(json.dumps({"query_id": q, "text": t}) + "\n" for q, t in claims)
    )
    scifact.joinpath("qrels", "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\t1\t1\nq2\t2\t1\n")
    return root


def test_eval_with_data_works_from_anywhere(capsys, tmp_path, monkeypatch):
    data = fake_benchmarks(tmp_path / "bench")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "eval", "retrieval", "--data", str(data), "--json")
    assert code == 0, err
    assert json.loads(out)["bm25"]["ndcg_at_10"] == 1.0


def test_eval_finds_shared_data_beside_the_working_folder_not_beside_site_packages(tmp_path):
    from retrieval.quality.evaluate import find_data_dir

    installed = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"  # no pyproject.toml: not a checkout
    installed.mkdir(parents=True)
    fake_benchmarks(tmp_path / "venv" / "lib" / "python3.11" / "shared" / "data")  # the old, wrong guess
    assert find_data_dir(tmp_path / "elsewhere", project=installed) is None
    fake_benchmarks(tmp_path / "shared" / "data")
    (tmp_path / "paperbot").mkdir()
    assert find_data_dir(tmp_path / "paperbot", project=installed) == tmp_path / "shared" / "data"
    checkout = tmp_path / "paperbot"
    (checkout / "pyproject.toml").write_text("")
    assert find_data_dir(tmp_path / "elsewhere", project=checkout) == tmp_path / "shared" / "data"


@pytest.mark.parametrize(
    ("task", "split", "choices"),
    [
        ("retrieval", "dev", "train, test"),
        ("evidence", "test", "train, dev"),
        ("tldr", "validation", "train, dev, test"),
    ],
)
def test_eval_rejects_an_unknown_split_with_the_list(capsys, tmp_path, task, split, choices):
    code, _, err = run(capsys, "eval", task, "--split", split, "--data", str(tmp_path))
    assert code == 2 and f"choose one of {choices}" in one_line(err)


def test_eval_answerability_takes_no_split_and_names_a_missing_file(capsys, tmp_path):
    code, _, err = run(capsys, "eval", "answerability", "--split", "dev", "--data", str(tmp_path))
    assert code == 2 and "takes no --split" in one_line(err)
    code, _, err = run(capsys, "eval", "answerability", "--data", str(fake_benchmarks(tmp_path / "bench")))
    assert code == 1 and "nq_open/dev.jsonl is missing" in one_line(err)


def test_eval_without_benchmarks_names_where_it_looked_and_the_option(capsys, tmp_path, monkeypatch):
    import retrieval.quality.evaluate

    monkeypatch.setattr(retrieval.quality.evaluate, "find_data_dir", lambda cwd=None: None)
    code, _, err = run(capsys, "eval", "retrieval")
    assert code == 2 and "pass --data DIR" in one_line(err)
    code, _, err = run(capsys, "eval", "retrieval", "--data", str(tmp_path / "nowhere"))
    assert code == 2 and "no scifact/ folder there" in one_line(err)


def test_eval_tldr_without_rouge_says_what_to_install(capsys, tmp_path, monkeypatch):
    import sys

    fake_benchmarks(tmp_path)
    (tmp_path / "scitldr").mkdir()
    (tmp_path / "scitldr" / "test.jsonl").write_text("")
    monkeypatch.setitem(sys.modules, "rouge_score", None)  # what `import rouge_score` meets when it is not installed
    code, _, err = run(capsys, "eval", "tldr", "--data", str(tmp_path))
    assert code == 1 and "pip install 'paperbot[eval]'" in one_line(err)


def test_the_eval_extra_exists():
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("rouge-score") for dep in project["optional-dependencies"]["eval"])


def test_long_inputs_are_not_echoed_whole(capsys, home):
    question = "zebra " * 20_000  # 120 kB, and no answer in the corpus
    code, out, err = run(capsys, "ask", question, "--home", str(home))
    assert code == 0 and "found nothing" in out and len(out) < 600
    code, out, _ = run(capsys, "ask", question, "--json", "--home", str(home))
    assert len(out) < 600 and json.loads(out)["question"].endswith("…")
    code, _, err = run(capsys, "paper", "x" * 50_000, "--home", str(home))
    assert code == 1 and len(one_line(err)) < 600
    code, out, _ = run(capsys, "search", "qqqq" * 20_000, "--home", str(home))
    assert code == 0 and len(out) < 600


class FeedServer(BaseHTTPRequestHandler):
    """/good serves the arXiv RSS fixture; everything else is a 404."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = (FIXTURES / "arxiv_cs_LG.rss").read_bytes() if self.path == "/good" else b"no"
        self.send_response(200 if self.path == "/good" else 404)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def feed_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FeedServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def fast_fetch(monkeypatch, no_env):
    """The real fetch_all, without the seconds of backoff between retries and between feeds."""
    monkeypatch.setattr(
        corpus.feeds.fetch_all, "__kwdefaults__", {**corpus.feeds.fetch_all.__kwdefaults__, "backoff": 0}
    )
    monkeypatch.setenv("PAPERBOT_FETCH_DELAY", "0")


def test_fetch_json_prints_each_failure_once(capsys, home, fast_fetch, feed_server):
    down = f"http://127.0.0.1:{closed_port()}/feed"
    code, out, err = run(
        capsys,
        "fetch",
        "--feed",
        f"{feed_server}/good",
        "--feed",
        f"{feed_server}/missing",
        "--feed",
        down,
        "--json",
        "--home",
        str(home),
    )
    data = json.loads(out)
    assert code == 0 and data["fetched"] == 4 and data["feeds"] == 3 and len(data["errors"]) == 2
    assert data["added"] + data["updated"] + data["unchanged"] == 4
    lines = err.splitlines()
    assert sum("/missing" in line for line in lines) == 1 and sum(down in line for line in lines) == 1
    assert "Traceback" not in err
    code, out, err = run(capsys, "fetch", "--feed", down, "--home", str(home))
    assert code == 1 and sum(down in line for line in err.splitlines()) == 1 and "1 feeds failed" in out


def test_fetch_rejects_a_feed_name_with_the_accepted_forms(capsys, home, no_env):
    code, out, err = run(capsys, "fetch", "--feed", "not a feed!!", "--json", "--home", str(home))
    line = one_line(err)
    assert code == 2 and "'not a feed!!' is not a feed" in line and "cs.LG" in line and "search:" in line
    assert json.loads(out)["code"] == 2


def test_ingest_honours_json_for_good_and_bad_files(capsys, home, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n")
    code, out, err = run(capsys, "ingest", str(bad), "--json", "--home", str(home))
    data = json.loads(out)
    assert code == 1 and data["rejected"] == 1 and data["files"][0]["errors"] and "Traceback" not in err
    code, out, _ = run(capsys, "ingest", str(tmp_path / "missing.jsonl"), "--json", "--home", str(home))
    assert code == 1 and json.loads(out)["rejected"] == 1


def test_batch_dash_reads_stdin(capsys, home, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO('{"id": "a", "text": "perceiver"}\n{"id": "b", "text": "gemini"}\n'))
    code, out, err = run(capsys, "search", "--batch", "-", "--k", "1", "--home", str(home))
    assert code == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["a", "b"]
    monkeypatch.setattr("sys.stdin", io.StringIO('{"text": "no id"}\n'))
    code, _, err = run(capsys, "ask", "--batch", "-", "--home", str(home))
    assert code == 1 and "<stdin>:1: id: Field required" in one_line(err)


def test_digest_says_how_many_were_published_when_none_matched(capsys, home):
    code, out, _ = run(capsys, "digest", "--date", "2024-03-08", "--keywords", "banana", "--home", str(home))
    assert code == 0 and out.strip() == "1 paper published on 2024-03-08, none matched keywords 'banana'."
    data = json.loads(
        run(capsys, "digest", "--date", "2024-03-08", "--keywords", "banana", "--json", "--home", str(home))[1]
    )
    assert data == {"date": "2024-03-08", "published": 1, "papers": []}
    code, out, _ = run(capsys, "digest", "--date", "2024-03-09", "--home", str(home))
    assert out.strip() == "No papers published on 2024-03-09 in the corpus."


@pytest.mark.parametrize(
    ("value", "expected"),
    [("[[[", 'a JSON list (["cs.LG"])'), ("not a feed!!", "is not a feed: expected a category")],
)
def test_bad_feeds_setting_names_the_variable_and_the_form(capsys, home, no_env, monkeypatch, value, expected):
    monkeypatch.setenv("PAPERBOT_FEEDS", value)
    code, _, err = run(capsys, "fetch", "--home", str(home))
    line = one_line(err)
    assert code == 2 and "PAPERBOT_FEEDS:" in line and expected in line and "Value error" not in line


def test_home_that_is_a_file_is_one_clear_line(capsys, tmp_path, no_env):
    path = tmp_path / "afile"
    path.write_text("x")
    for argv in (["corpus"], ["search", "x"], ["check", "--no-token"]):
        code, _, err = run(capsys, *argv, "--home", str(path))
        assert code == 2 and "is a file, not a folder" in one_line(err) and "Errno" not in err


def test_the_first_run_says_where_the_home_is_once(capsys, home):
    _, _, err = run(capsys, "corpus", "--home", str(home))
    assert f"created a new home at {home}" in err
    _, _, err = run(capsys, "corpus", "--home", str(home))
    assert "created a new home" not in err


def test_an_unexpected_error_is_one_line_and_a_traceback_file(capsys, home, tmp_path, monkeypatch):
    import tempfile

    import bot.cli.query

    def broken(args, ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(bot.cli.query, "cmd_search", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    code, out, err = run(capsys, "search", "x", "--json", "--home", str(home))
    line = one_line(err)
    assert code == 1 and "unexpected error (RuntimeError: boom)" in line and json.loads(out)["code"] == 1
    (saved,) = (tmp_path / "paperbot").iterdir()
    assert str(saved) in line and "Traceback" in saved.read_text() and "boom" in saved.read_text()


def test_a_locked_store_names_the_likely_holder(capsys, home, monkeypatch):
    import bot.cli.papers

    def locked(args, ctx):
        raise sqlite3.OperationalError("database is locked")  # what sqlite3 raises after its busy timeout

    monkeypatch.setattr(bot.cli.papers, "cmd_corpus", locked)
    code, _, err = run(capsys, "corpus", "--home", str(home))
    assert code == 1 and "locked by another paperbot process" in one_line(err)


def test_unknown_command_and_option_are_usage_lines_with_json(capsys):
    code, out, err = run(capsys, "frobnicate", "--json")
    assert code == 2 and "invalid choice: 'frobnicate'" in one_line(err) and json.loads(out)["code"] == 2
    code, out, err = run(capsys, "search", "x", "--nope")
    assert code == 2 and "unrecognized arguments: --nope" in one_line(err)


def test_eval_from_an_installed_copy_needs_data_and_works_with_it(tmp_path):
    """The package copied into a site-packages folder, as `pip install .` lays it out (no checkout around it)."""
    import os
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    for package in ("corpus", "retrieval", "bot"):
        shutil.copytree(root / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(site),
        "PAPERBOT_HOME": str(tmp_path / "h"),
        **user_env(),  # the run's HOME, not the account's
    }

    def paperbot(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *argv], capture_output=True, text=True, env=env, cwd=elsewhere, timeout=60
        )

    result = paperbot("eval", "retrieval", "--split", "test")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no benchmark data found" in result.stderr and "pass --data DIR" in result.stderr
    assert "python3.11/shared/data" not in result.stderr  # the old guess beside site-packages
    data = fake_benchmarks(tmp_path / "bench")
    result = paperbot("eval", "retrieval", "--split", "test", "--data", str(data), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["queries"] == 2
