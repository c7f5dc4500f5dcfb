"""`paperbot harvest` against a local fake OAI-PMH server (127.0.0.1 only) serving arXiv-format pages."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from corpus.harvest import HarvestError, harvest, load_state
from corpus.store import Store
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
REAL = (FIXTURES / "real" / "oaipmh_arXiv_astro-ph_2013.xml").read_text()
RECORD = REAL[REAL.index("<record>") : REAL.index("</record>") + len("</record>")]
HEAD = REAL[: REAL.index("<ListRecords>") + len("<ListRecords>")]


def record(number: int, category: str) -> str:
    """The real 2013 record, renumbered and recategorised."""
    arxiv_id = f"2401.{number:05d}"
    text = RECORD.replace("0801.3931", arxiv_id).replace(
        "<categories>astro-ph</categories>", f"<categories>{category}</categories>"
    )
    return text.replace("Dynamical study", f"Study {number}: dynamical study")


PAGES = [
    [record(1, "cs.LG"), record(2, "math.CO"), record(3, "cs.CL stat.ML")],
    [record(4, "cs.LG"), record(5, "cs.CV")],
    [record(6, "cs.CL")],
]


def page(index: int) -> str:
    token = (
        f'<resumptionToken cursor="{index * 3}" completeListSize="6">tok{index + 1}</resumptionToken>'
        if index + 1 < len(PAGES)
        else '<resumptionToken cursor="5" completeListSize="6"/>'
    )
    return HEAD + "\n" + "\n".join(PAGES[index]) + "\n" + token + "\n</ListRecords>\n</OAI-PMH>\n"


def error(code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        f'<responseDate>2024-01-02T00:00:00Z</responseDate><request verb="ListRecords">x</request>'
        f'<error code="{code}">{message}</error></OAI-PMH>'
    )


class FakeArxiv:
    """Serves PAGES; `script` maps a request number to a special answer (503, expired token, cut page, hang)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: dict[int, str] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(self.path).query))
                fake.requests.append(query)
                special = fake.script.get(len(fake.requests))
                if special == "503":
                    self.send_response(503)
                    self.send_header("Retry-After", "7")
                    self.end_headers()
                    return
                if special == "hang":
                    time.sleep(30)
                    return
                token = query.get("resumptionToken")
                if special == "expired" or (token and not re.fullmatch(r"tok[12]", token)):
                    body = error(
                        "badResumptionToken", "The value of the resumptionToken argument is invalid or expired."
                    )
                else:
                    body = page(int(token[3:]) if token else 0)
                    if special == "cut":
                        body = body[: len(body) // 2]
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oai"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    with FakeArxiv() as server:
        yield server


def run(store: Store, fake: FakeArxiv, sleeps: list | None = None, **kwargs):
    sleeps = sleeps if sleeps is not None else []
    return harvest(store, set_spec="cs", base_url=fake.url, delay=3.0, sleep=sleeps.append, timeout=5, **kwargs)


def test_pages_with_tokens_categories_and_politeness(tmp_path, fake):
    sleeps: list[float] = []
    with Store(tmp_path / "s.sqlite3") as store:
        report = run(store, fake, sleeps, categories=["cs.LG", "cs.CL"], start="2024-01-01")
        assert report.done and (report.pages, report.seen, report.kept, report.added) == (3, 6, 4, 4)
        assert sorted(p.id for p in store.papers() if p.id.startswith("2401.")) == [
            "2401.00001",
            "2401.00003",
            "2401.00004",
            "2401.00006",
        ]
        assert store.get("2401.00003").categories == ["cs.CL", "stat.ML"]
        state = load_state(store, "cs")
        assert state.done and state.token is None and state.next_from
    assert fake.requests[0] == {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs", "from": "2024-01-01"}
    assert [r.get("resumptionToken") for r in fake.requests[1:]] == ["tok1", "tok2"]
    assert sleeps == [3.0, 3.0]  # one pause between requests, none before the first


def test_503_with_retry_after_is_honoured(tmp_path, fake):
    fake.script = {2: "503"}
    sleeps: list[float] = []
    with Store(tmp_path / "s.sqlite3") as store:
        assert run(store, fake, sleeps).done
    assert 7.0 in sleeps and len(fake.requests) == 4
    assert fake.requests[2].get("resumptionToken") == "tok1"  # the same page asked again


def test_a_page_cut_short_is_fetched_again(tmp_path, fake):
    fake.script = {2: "cut"}
    with Store(tmp_path / "s.sqlite3") as store:
        report = run(store, fake)
        assert report.done and report.added == 6
    assert [r.get("resumptionToken") for r in fake.requests] == [None, "tok1", "tok1", "tok2"]


def test_an_expired_token_starts_the_run_over_and_changes_nothing_stored(tmp_path, fake):
    with Store(tmp_path / "s.sqlite3") as store:
        first = run(store, fake, max_pages=1, start="2024-01-01")
        assert not first.done and load_state(store, "cs").token == "tok1"
        fake.script = {len(fake.requests) + 1: "expired"}
        report = run(store, fake, start="2024-01-01")
        assert report.resumed and report.restarted and report.done
        assert (report.added, report.unchanged) == (3, 3)  # page one again: already stored
    assert fake.requests[-3] == {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs", "from": "2024-01-01"}


def test_gives_up_cleanly_and_keeps_progress(tmp_path, fake):
    fake.script = {2: "503", 3: "503"}
    with Store(tmp_path / "s.sqlite3") as store:
        with pytest.raises(HarvestError, match="gave up after 2 tries"):
            run(store, fake, retries=1)
        assert load_state(store, "cs").token == "tok1" and store.get("2401.00001") is not None


def test_cli_resumes_after_a_kill(tmp_path, fake):
    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PAPERBOT_ARXIV_OAI_URL": fake.url}
    fake.script = {2: "hang"}  # page two never comes: the process is killed while waiting for it
    argv = [
        sys.executable,
        "-m",
        "bot.cli",
        "harvest",
        "--set",
        "cs",
        "--categories",
        "cs.LG,cs.CL",
        "--from",
        "2024-01-01",
        "--delay",
        "0",
        "--home",
        str(home),
    ]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(fake.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait(timeout=10)
    db = sqlite3.connect(home / "papers.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM papers WHERE id LIKE '2401.%'").fetchone()[0] == 2  # page one stored
    db.close()
    done = subprocess.run(argv + ["--json"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"resumed": true' in done.stdout and '"done": true' in done.stdout
    assert fake.requests[2].get("resumptionToken") == "tok1"  # it went on from the saved token
    db = sqlite3.connect(home / "papers.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM papers WHERE id LIKE '2401.%'").fetchone()[0] == 4
    db.close()


def test_cli_refuses_to_hurry_arxiv(capsys, home):
    from bot.cli import main

    assert main(["harvest", "--delay", "1", "--home", str(home)]) == 2
    assert "at least 3 s" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--delay", "nan"], "--delay: nan is out of range: give 0..3600 seconds"),
        (["--delay", "-1"], "--delay: -1 is out of range"),
        (["--delay", "inf"], "--delay: inf is out of range"),
        (["--delay", "1e400"], "--delay: 1e400 is out of range"),
        (["--delay", "soon"], "--delay: 'soon' is not a number of seconds"),
        (["--from", "99999-01-01"], "--from: '99999-01-01' is not a day: expected YYYY-MM-DD"),
        (["--from", "2024-02-30"], "--from: '2024-02-30' is not a day"),
        (["--from", "2024-1-1"], "--from: '2024-1-1' is not a day"),
        (["--from", "0001-01-01"], "--from: 0001-01-01 is out of range: give a day from 1991-08-14"),
        (["--until", "2999-12-31"], "--until: 2999-12-31 is out of range"),
        (["--from", "2024-05-01", "--until", "2024-01-01"], "--until 2024-01-01 is before --from 2024-05-01"),
        (["--max-pages", "0"], "--max-pages: 0 is out of range: give 1..1000000"),
        (["--max-pages", "-3"], "--max-pages: -3 is out of range"),
        (["--set", ""], "--set: '' is not an OAI-PMH set"),
        (["--set", "cs lg"], "--set: 'cs lg' is not an OAI-PMH set"),
        (["--categories", ",,,"], "--categories: ',,,' names no category"),
        (["--categories", "cs.LG,53D10"], "--categories: '53D10' is not an arXiv category"),
        (["--url", "notaurl"], "--url: 'notaurl' is not an http(s) URL"),
        (["--url", "ftp://example.org/oai"], "--url: 'ftp://example.org/oai' is not an http(s) URL"),
    ],
)
def test_cli_refuses_options_out_of_range_in_one_line_before_opening_the_home(capsys, tmp_path, argv, says):
    from bot.cli import main

    home = tmp_path / "home"
    url = [] if "--url" in argv else ["--url", "http://127.0.0.1:9/oai"]  # never reached: refused before any request
    assert main(["harvest", *url, "--delay", "0", *argv, "--home", str(home)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in err, err
    assert not home.exists()  # nothing created, nothing stored


def test_cli_refuses_a_bad_oai_url_setting(capsys, tmp_path, monkeypatch):
    from bot.cli import main

    monkeypatch.setenv("PAPERBOT_ARXIV_OAI_URL", "oaipmh.arxiv.org/oai")
    assert main(["harvest", "--home", str(tmp_path / "home")]) == 2
    assert (
        "PAPERBOT_ARXIV_OAI_URL: not an http(s) URL: it must start with http:// or https://" in capsys.readouterr().err
    )


def test_cli_nan_delay_is_a_usage_line_not_a_traceback_file(tmp_path):
    """Before: `--delay nan` reached time.sleep and ended as "unexpected error ... traceback in /tmp/..."."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "bot.cli", "harvest", "--delay", "nan", "--home", str(tmp_path / "home")]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "paperbot: argument --delay: nan is out of range: give 0..3600 seconds (see `paperbot harvest --help`)"
    ]
