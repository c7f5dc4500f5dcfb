"""Harvest faults against a local fake OAI-PMH server (127.0.0.1 only): one bad page, an expired token (issue #25, case 5).

Before the fix: an HTML error page served with HTTP 200 in the middle of a harvest stopped it at once,
advising to "load them with `paperbot harvest`" (the command being run); after a `badResumptionToken`
restart the saved counters added both runs (more records seen than the list holds).
"""

from __future__ import annotations

import functools
import re
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from corpus.harvest import HarvestError, harvest, load_state
from corpus.store import Store
from tests.corpus.test_harvest import error, page
from tests.faults.store_helpers import make_home

HTML = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
    "<body><h1>Bad Gateway</h1><p>The proxy got an invalid answer.<br></p></body></html>\n"
)
XHTML = (
    '<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Maintenance</title></head>'
    "<body><p>Back soon.</p></body></html>\n"
)


class FakeOai:
    """Serves tests/corpus/test_harvest.py's three pages (6 records); `answer(n, query)` may replace request n's body."""

    def __init__(self, answer: Callable[[int, dict], tuple[str, str] | None] = lambda n, q: None):
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(self.path).query))
                fake.requests.append(query)
                special = answer(len(fake.requests), query)
                token = query.get("resumptionToken")
                if special is not None:
                    kind, body = special
                elif token and not re.fullmatch(r"tok[12]", token):
                    kind, body = "text/xml", error("badResumptionToken", "The resumptionToken is invalid or expired.")
                else:
                    kind, body = "text/xml", page(int(token[3:]) if token else 0)
                data = body.encode()
                self.send_response(200)  # every answer is "200 OK", the error pages too
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oai"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOai:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def run(store: Store, fake: FakeOai, sleeps: list[float], **kwargs):
    return harvest(store, set_spec="cs", base_url=fake.url, delay=3.0, sleep=sleeps.append, timeout=5, **kwargs)


@pytest.mark.parametrize("bad", [("text/html", HTML), ("text/html", XHTML), ("text/xml", page(1)[:300])])
def test_a_page_that_is_not_oai_pmh_is_asked_for_again(tmp_path, bad):
    sleeps: list[float] = []
    answers = {2: bad, 3: bad}  # page two comes back as an error page twice, then as itself
    with FakeOai(lambda n, q: answers.get(n)) as fake, Store(tmp_path / "s.sqlite3") as store:
        report = run(store, fake, sleeps)
        assert report.done and (report.pages, report.seen, report.added) == (3, 6, 6)
        state = load_state(store, "cs")
        assert (state.pages, state.seen, state.complete_size) == (3, 6, 6)
    assert [r.get("resumptionToken") for r in fake.requests] == [None, "tok1", "tok1", "tok1", "tok2"]
    assert sleeps == [3.0, 3.0, 3.0, 3.0]  # the pause before each request, backoff included (max(delay, 2**n))


def test_a_server_that_keeps_answering_html_stops_saying_what_to_do(tmp_path):
    sleeps: list[float] = []
    with FakeOai(lambda n, q: ("text/html", XHTML) if n > 1 else None) as fake, Store(tmp_path / "s.sqlite3") as store:
        with pytest.raises(HarvestError) as stopped:
            run(store, fake, sleeps, retries=3)
        message = str(stopped.value)
        assert "gave up after 4 tries (an HTML page, not OAI-PMH x4)" in message, message
        assert "check --url or PAPERBOT_ARXIV_OAI_URL" in message and "run the same command again" in message
        assert "load them with" not in message
        assert load_state(store, "cs").token == "tok1"  # page one is stored; the run resumes at page two
    assert sleeps == [3.0, 3.0, 3.0, 4.0, 8.0]  # backoff: 3 s apart at least, doubling


def test_counters_after_an_expired_token_describe_the_run_that_finished(tmp_path):
    expired: set[int] = set()  # request numbers answered badResumptionToken
    answer = lambda n, q: ("text/xml", error("badResumptionToken", "expired")) if n in expired else None  # noqa: E731
    with FakeOai(answer) as fake, Store(tmp_path / "s.sqlite3") as store:
        first = run(store, fake, [], max_pages=2)
        assert not first.done and load_state(store, "cs").seen == 5
        expired.add(len(fake.requests) + 1)  # the saved token has expired by the next run
        report = run(store, fake, [])
        assert report.resumed and report.restarted and report.done
        state = load_state(store, "cs")
        assert (state.pages, state.seen, state.complete_size) == (3, 6, 6), state  # not 5 + 6 of a 6-record list
        assert (report.pages, report.seen) == (3, 6)


def test_the_cli_stops_in_one_line_that_names_what_to_do(tmp_path, capsys, monkeypatch):
    from bot.cli import main

    home = make_home(tmp_path / "home")
    # the CLI's own harvest, without the minute of real backoff sleeps
    monkeypatch.setattr("bot.cli.harvest.harvest", functools.partial(harvest, sleep=lambda seconds: None))
    with FakeOai(lambda n, q: ("text/html", XHTML) if n > 1 else None) as fake:
        code = main(["harvest", "--url", fake.url, "--delay", "0", "--home", str(home)])
    assert code == 1
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if line.startswith("paperbot:"))
    assert line.startswith("paperbot: harvest stopped:") and "an HTML page, not OAI-PMH x6" in line, line
    assert "run the same command again" in line and "load them with" not in line and "Traceback" not in err
