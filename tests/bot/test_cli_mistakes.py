"""Issue #26, item 5: mistakes are answered, the same way everywhere, never with silence.

In-process through `bot.cli.main` on a fresh home; arXiv is a local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.cli import main
from tests.conftest import FIXTURES

GOOD_TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def lines(err: str) -> list[str]:
    """stderr without the one "created a new home" line of a fresh home."""
    return [line for line in err.splitlines() if not line.startswith("paperbot: created a new home")]


def test_a_year_range_that_ends_before_it_starts_is_an_error_with_the_fix(capsys, home):
    code, out, err = run(
        capsys, "search", "transformers", "--year-from", "2025", "--year-to", "2020", "--home", str(home)
    )
    assert code == 2 and out == ""
    assert lines(err) == [
        "paperbot: --year-from 2025 is after --year-to 2020: no year is in both;"
        " did you mean --year-from 2020 --year-to 2025?"
    ]
    code, out, _ = run(capsys, "--json", "search", "x", "--year-from", "2025", "--year-to", "2020", "--home", str(home))
    assert code == 2 and json.loads(out)["code"] == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "corpus"],
        ["corpus", "--json"],
        ["--json", "--home", "{home}", "corpus"],
        ["--home", "{home}", "corpus", "--json"],
    ],
)
def test_global_options_work_before_and_after_the_command(capsys, home, argv):
    argv = [a.replace("{home}", str(home)) for a in argv]
    if "--home" not in argv:
        argv += ["--home", str(home)]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert json.loads(out)["papers"] == 13


@pytest.mark.parametrize("command", [["search", "transformers"], ["check"], ["serve"], ["corpus"]])
def test_a_bad_setting_is_refused_the_same_way_by_every_command(capsys, home, monkeypatch, command):
    monkeypatch.setenv("PAPERBOT_SEMANTIC", "maybe")
    monkeypatch.setenv("DISCORD_TOKEN", GOOD_TOKEN)
    monkeypatch.chdir(home.parent if home.parent.exists() else FIXTURES)
    code, out, err = run(capsys, *command, "--home", str(home))
    assert code == 2, err
    assert lines(err) == ["paperbot: bad settings: PAPERBOT_SEMANTIC: expected true or false (or 1/0, yes/no, on/off)"]


def test_ingest_of_a_junk_folder_says_what_it_left_out_and_why(capsys, home, tmp_path):
    folder = tmp_path / "junk"
    (folder / "sub").mkdir(parents=True)
    (folder / "paper.pdf").write_bytes(b"%PDF-1.4 not records")
    (folder / "sub" / "notes.md").write_text("# notes\n")
    (folder / ".hidden.jsonl").write_text("{}\n")
    (folder / "good.jsonl").write_text(
        json.dumps({"id": "2101.00001", "title": "A title", "abstract": "An abstract."}) + "\n"
    )
    code, out, err = run(capsys, "ingest", str(folder), "--json", "--home", str(home))
    assert code == 0, err
    report = json.loads(out)
    assert report["added"] == 1
    assert {(i["path"].split("junk/")[1], i["why"]) for i in report["ignored"]} == {
        ("paper.pdf", "not a format paperbot reads (.pdf)"),
        ("sub/notes.md", "not a format paperbot reads (.md)"),
        (".hidden.jsonl", "a hidden file"),
    }
    assert f"{folder / 'paper.pdf'}: ignored: not a format paperbot reads (.pdf)" in err
    code, out, err = run(capsys, "ingest", str(folder), "--home", str(home))
    assert "3 files ignored" in out.splitlines()[-1]


def test_a_pretty_printed_json_array_gets_one_line_that_says_what_it_is(capsys, home, tmp_path):
    records = [{"id": f"2101.0000{n}", "title": f"Title {n}", "abstract": "An abstract."} for n in range(1, 8)]
    path = tmp_path / "papers.json"
    path.write_text(json.dumps(records, indent=2))
    code, out, err = run(capsys, "ingest", str(path), "--home", str(home))
    assert code == 1
    problem = [line for line in lines(err)]
    assert problem == [
        f"{path}: json: this is one JSON array, not JSON Lines (one JSON object per line): put each record on its"
        " own line, e.g. jq -c '.[]' papers.json > papers.jsonl"
    ]


class SlowFeed:
    """An RSS listing served after `delay` seconds, on 127.0.0.1."""

    def __init__(self, delay: float):
        body = (FIXTURES / "real" / "rss2_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24.rss").read_bytes()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rss/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_network_wait_over_2_s_says_what_it_waits_for(capsys, home, monkeypatch):
    feed = SlowFeed(2.6)
    monkeypatch.setenv("PAPERBOT_ARXIV_RSS_URL", feed.url)
    monkeypatch.setenv("PAPERBOT_FETCH_DELAY", "0")
    try:
        code, out, err = run(capsys, "fetch", "--feed", "cs.LG", "--home", str(home))
    finally:
        feed.close()
    assert code == 0, err
    assert "paperbot: waiting for 127.0.0.1 to answer the feed cs.LG (still going; Ctrl-C stops it)" in err
    quick = SlowFeed(0)
    monkeypatch.setenv("PAPERBOT_ARXIV_RSS_URL", quick.url)
    try:
        code, out, err = run(capsys, "fetch", "--feed", "cs.LG", "--home", str(home))
    finally:
        quick.close()
    assert code == 0 and "waiting for" not in err  # a quick answer says nothing
