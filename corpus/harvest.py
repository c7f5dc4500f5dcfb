"""Harvest a backlog from arXiv's OAI-PMH interface into the store, resumably.

arXiv's bulk interface (https://oaipmh.arxiv.org/oai) pages a ListRecords answer 1,000
records at a time behind a `resumptionToken`, asks for one request every 3 s, and answers
`503` with `Retry-After` under load. Each page is parsed, filtered to the wanted
categories, and ingested as one change; then the token and counts are saved in the store's
`meta` table. So a harvest killed at any moment (crash, Ctrl-C, reboot) resumes at the page
it was on, and re-fetching a page that was already stored changes nothing (ingest merges).
A finished harvest remembers the day it started, so running it daily picks up from there.

Plain urllib + ElementTree rather than an OAI-PMH client library: the parsing is shared
with `paperbot ingest` (corpus.formats.oaipmh), and the pieces a library would hide are
the ones this module exists for (saving the token after each page, Retry-After, a token
that expired while the harvest was stopped, a page cut short).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

from corpus.feeds import USER_AGENT, oai_url
from corpus.formats.oaipmh import NotRecords, OaiError, Page, oai_records
from corpus.models import Paper, Problem, RecordError
from corpus.store import Store

log = logging.getLogger(__name__)
MIN_DELAY = 3.0  # arXiv's rule for its own servers


class HarvestError(Exception):
    """The harvest cannot go on (the server keeps failing, or answers an OAI-PMH error): progress is saved."""


class HarvestState(BaseModel):
    """What is saved after every page, under meta key `harvest:<set>`."""

    set: str
    prefix: str = "arXiv"
    categories: list[str] = []
    start: str | None = None  # the `from` of the current run
    until: str | None = None
    token: str | None = None
    complete_size: int | None = None
    cursor: int = 0
    pages: int = 0
    seen: int = 0
    kept: int = 0
    done: bool = False
    next_from: str | None = None  # where the next (daily) run starts once this one is done
    began: str | None = None  # the day this run started


@dataclass
class HarvestReport:
    pages: int = 0
    seen: int = 0
    kept: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    resumed: bool = False
    restarted: bool = False  # the saved token had expired: the run started over (stored pages change nothing)
    done: bool = False
    state: HarvestState | None = None
    problems: list[Problem] = field(default_factory=list)


def state_key(set_spec: str) -> str:
    return f"harvest:{set_spec}"


def load_state(store: Store, set_spec: str) -> HarvestState | None:
    raw = store.get_meta(state_key(set_spec))
    return HarvestState.model_validate_json(raw) if raw else None


def harvest(
    store: Store,
    *,
    set_spec: str,
    categories: list[str] | None = None,
    start: str | None = None,
    until: str | None = None,
    base_url: str | None = None,
    prefix: str = "arXiv",
    delay: float = MIN_DELAY,
    retries: int = 5,
    timeout: float = 120.0,
    max_pages: int | None = None,
    on_page: Callable[[HarvestState, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> HarvestReport:
    """Harvest `set_spec` (e.g. "cs") into the store, resuming a stopped run of the same set.

    `categories` keeps only papers listed in one of them (cs.LG, cs.CL ...); `start`/`until`
    are OAI-PMH `from`/`until` days (of the record's last change). Without `start`, a set
    harvested before continues from the day its last finished run began.
    """
    store.ensure_sound()  # a damaged store is refused before anything is fetched (StoreDamaged says what to do)
    base_url = base_url or oai_url()
    wanted = set(categories or [])
    state = load_state(store, set_spec)
    report = HarvestReport()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    if state and not state.done and state.token and (start is None or start == state.start):
        report.resumed = True
        state.categories = sorted(wanted) or state.categories
        wanted = set(state.categories)
    else:
        next_from = state.next_from if state else None
        state = HarvestState(
            set=set_spec, prefix=prefix, categories=sorted(wanted), start=start or next_from, until=until, began=today
        )
    report.state = state
    expired_restart_done = False
    first = True
    while True:
        if not first and delay:
            sleep(delay)
        first = False
        params = {"verb": "ListRecords"}
        if state.token:
            params["resumptionToken"] = state.token
        else:
            params.update(metadataPrefix=state.prefix, set=state.set)
            if state.start:
                params["from"] = state.start
            if state.until:
                params["until"] = state.until
        url = f"{base_url}?{urllib.parse.urlencode(params)}"
        try:
            papers, page = _fetch_page(url, set_spec, retries=retries, timeout=timeout, sleep=sleep, delay=delay)
        except OaiError as exc:
            if exc.code == "noRecordsMatch":
                papers, page = [], Page()
            elif exc.code == "badResumptionToken" and state.token and not expired_restart_done:
                log.warning("the saved resumption token expired; starting the harvest over from %s", state.start)
                expired_restart_done = report.restarted = True
                # the counters describe the run that finishes: the list is read again from its first page
                state.token, state.cursor, state.complete_size = None, 0, None
                state.pages = state.seen = state.kept = 0
                report.pages = report.seen = report.kept = 0
                continue
            else:
                _save(store, state)
                raise HarvestError(f"{base_url}: {exc}") from None
        expired_restart_done = False
        if wanted:
            papers = [p for p in papers if wanted & set(p.categories)]
        result = store.ingest(papers)
        report.added += result.added
        report.updated += result.updated
        report.unchanged += result.unchanged
        report.pages += 1
        report.seen += page.records
        report.kept += len(papers)
        state.pages += 1
        state.seen += page.records
        state.kept += len(papers)
        state.token = page.token
        state.complete_size = page.complete_size or state.complete_size
        state.cursor = (page.cursor or 0) + page.records if page.token else state.seen
        if not page.token:
            state.done = True
            state.next_from = state.began or today
        _save(store, state)
        if on_page:
            on_page(state, page.records)
        if state.done:
            report.done = True
            return report
        if max_pages is not None and report.pages >= max_pages:
            return report


def _save(store: Store, state: HarvestState) -> None:
    store.set_meta(state_key(state.set), state.model_dump_json())


def _fetch_page(
    url: str, set_spec: str, *, retries: int, timeout: float, sleep: Callable[[float], None], delay: float
) -> tuple[list[Paper], Page]:
    """One page, parsed; retried with backoff on 503/5xx (waiting Retry-After), network errors, a page cut short,
    and a page that is not OAI-PMH at all (a proxy's or the server's HTML error page, sent with HTTP 200)."""
    failures: list[str] = []
    for attempt in range(retries + 1):
        wait = max(delay, 2.0**attempt)
        try:
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = response.read()
                kind = response.headers.get_content_type()
        except urllib.error.HTTPError as exc:
            if exc.code not in {429, 500, 502, 503, 504}:
                raise HarvestError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            wait = max(wait, _retry_after(exc.headers.get("Retry-After")))
            failures.append(f"HTTP {exc.code}")
            log.info("arXiv answered %s; waiting %.0f s", exc.code, wait)
            sleep(wait)
            continue
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            sleep(wait)
            continue
        page = Page()
        papers: list[Paper] = []
        problems: list[Problem] = []
        try:
            for item in oai_records(io.BytesIO(body), f"arXiv harvest {set_spec}", page):
                if isinstance(item, Problem):
                    problems.append(item)
                    continue
                try:
                    papers.append(item.build())
                except RecordError as exc:
                    problems.extend(exc.problems)
        except NotRecords:  # well-formed, but no OAI-PMH ListRecords: an XHTML error page, say
            problems = [Problem("1", "xml", "not an OAI-PMH response")]
        if any(p.field == "xml" for p in problems):
            failures.append(_not_a_page(body, kind, problems[0].message))
            log.info("the page is not a whole OAI-PMH response (%s); asking for it again in %.0f s", failures[-1], wait)
            sleep(wait)
            continue  # the same token fetches it again
        for problem in problems:
            log.warning("%s: %s: %s: %s (record skipped)", url, problem.where, problem.field, problem.message)
        return papers, page
    raise HarvestError(f"{url}: gave up after {retries + 1} tries ({_failures(failures)}); {_advice(failures)}")


def _not_a_page(body: bytes, kind: str, problem: str) -> str:
    """What came instead of an OAI-PMH page, in a few words."""
    head = body[:512].lstrip().lower()
    if kind == "text/html" or head.startswith((b"<!doctype html", b"<html")):
        return "an HTML page, not OAI-PMH"
    if not body.strip():
        return "an empty page"
    return "a page cut short or malformed" if "cut short" in problem else "not an OAI-PMH response"


def _failures(failures: list[str]) -> str:
    """The failures of every try, each kind once with how often: "an HTML page, not OAI-PMH x3, HTTP 503"."""
    counts: dict[str, int] = {}
    for failure in failures:
        counts[failure] = counts.get(failure, 0) + 1
    return ", ".join(f"{what} x{n}" if n > 1 else what for what, n in counts.items())


def _advice(failures: list[str]) -> str:
    """What to do after the last try: every page before this one is stored, and the same command resumes here."""
    resume = "every page before this one is stored: run the same command again to resume from this page"
    if failures and all("OAI-PMH" in f or f == "an empty page" for f in failures):
        return (
            "the server is not answering OAI-PMH (an outage, or a proxy's error page?): check --url or"
            f" PAPERBOT_ARXIV_OAI_URL (arXiv's is https://oaipmh.arxiv.org/oai) and try again later; {resume}"
        )
    return f"the server may be down or overloaded: wait a while; {resume}"


def _retry_after(value: str | None) -> float:
    try:
        return min(float(value), 3600.0) if value else 0.0
    except ValueError:
        return 0.0
