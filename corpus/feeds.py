"""Fetching arXiv feeds: the API (searches) and the RSS listings (categories).

Plain asyncio + aiohttp, no Discord: the bot's digest task and `paperbot fetch` both
call `fetch_all`. arXiv asks for 3 s between API calls and a descriptive User-Agent;
a feed that fails after its retries is logged and skipped so the others still count.
An API search pages through all its results (`page_size` at a time, `delay` apart, up to
`max_results`), not just the first page. Every base URL is a setting
(PAPERBOT_ARXIV_API_URL, PAPERBOT_ARXIV_RSS_URL), so tests point them at a local server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import feedparser
from pydantic import BaseModel

from corpus.loaders import LoadError, load_feed
from corpus.models import Paper

if TYPE_CHECKING:  # aiohttp is imported where a feed is fetched: most commands never fetch (~0.15 s of start-up)
    import aiohttp

log = logging.getLogger(__name__)
USER_AGENT = "paperbot/0.1 (Discord paper-digest bot; +https://github.com/paperbot)"
API_URL = "https://export.arxiv.org/api/query"
RSS_URL = "https://rss.arxiv.org/rss/"
OAI_URL = "https://oaipmh.arxiv.org/oai"
PAGE_SIZE = 100
MAX_RESULTS = 2000


# Set from the validated settings (bot/settings.py `load_settings`), so a value in `.env` counts as one in the
# environment does; the environment itself, read at each call, comes first.
_configured: dict[str, str] = {}


def configure_urls(api: str | None = None, rss: str | None = None, oai: str | None = None) -> None:
    """Use these arXiv endpoints (None: the environment's, else arXiv's own)."""
    _configured.clear()
    _configured.update({k: v for k, v in (("api", api), ("rss", rss), ("oai", oai)) if v})


def api_url() -> str:
    return os.environ.get("PAPERBOT_ARXIV_API_URL") or _configured.get("api") or API_URL


def rss_url() -> str:
    base = os.environ.get("PAPERBOT_ARXIV_RSS_URL") or _configured.get("rss") or RSS_URL
    return base if base.endswith("/") else base + "/"


def oai_url() -> str:
    return os.environ.get("PAPERBOT_ARXIV_OAI_URL") or _configured.get("oai") or OAI_URL


class FeedSource(BaseModel):
    """One configured feed: a category listing ("cs.LG"), an API search ("search:abs:DeepMind") or a URL."""

    spec: str

    @property
    def url(self) -> str:
        return self.page_url(0, PAGE_SIZE)

    def page_url(self, start: int, size: int) -> str:
        spec = self.spec.strip()
        if spec.startswith(("http://", "https://")):
            return spec
        if spec.startswith("search:"):
            query = urllib.parse.urlencode(
                {
                    "search_query": spec.removeprefix("search:"),
                    "sortBy": "submittedDate",
                    "sortOrder": "descending",
                    "start": str(start),
                    "max_results": str(size),
                }
            )
            return f"{api_url()}?{query}"
        return rss_url() + spec

    @property
    def label(self) -> str:
        """The source stored with each paper, in words (`paperbot corpus` shows it)."""
        spec = self.spec.strip()
        if spec.startswith("search:"):
            return f"arXiv search {spec.removeprefix('search:')}"
        if spec.startswith(("http://", "https://")):
            return spec
        return f"arXiv listing {spec}"

    @property
    def is_api(self) -> bool:
        return self.spec.strip().startswith("search:")


@dataclass
class FetchResult:
    papers: list[Paper] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def fetch_text(session: aiohttp.ClientSession, url: str, timeout: float, retries: int, backoff: float) -> str:
    """GET with a timeout and retries with exponential backoff (or the server's Retry-After); raises the last error."""
    import aiohttp

    last: Exception | None = None
    for attempt in range(retries + 1):
        wait = backoff * 2**attempt
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                if response.status in {429, 500, 502, 503, 504}:
                    wait = max(wait, _retry_after(response.headers.get("Retry-After")))
                    raise aiohttp.ClientResponseError(
                        response.request_info, (), status=response.status, message=response.reason or ""
                    )
                response.raise_for_status()
                return await response.text()
        except (TimeoutError, aiohttp.ClientError) as exc:
            last = exc
            if attempt < retries:
                await asyncio.sleep(wait)
    assert last is not None
    raise last


def _retry_after(value: str | None) -> float:
    try:
        return min(float(value), 600.0) if value else 0.0
    except ValueError:
        return 0.0


async def _fetch_source(
    session: aiohttp.ClientSession,
    source: FeedSource,
    *,
    delay: float,
    timeout: float,
    retries: int,
    backoff: float,
    max_results: int,
) -> list[Paper]:
    """A listing is one page; an API search pages on until it has every result (or max_results)."""
    if not source.is_api:
        return load_feed(await fetch_text(session, source.url, timeout, retries, backoff), source.label)
    papers: list[Paper] = []
    start = 0
    while start < max_results:
        if start and delay:
            await asyncio.sleep(delay)
        size = min(PAGE_SIZE, max_results - start)
        text = await fetch_text(session, source.page_url(start, size), timeout, retries, backoff)
        page = load_feed(text, source.label)
        papers.extend(page)
        total = _total_results(text)
        start += size
        if len(page) < size or (total is not None and start >= total):
            break
    return papers


def _total_results(text: str) -> int | None:
    value = feedparser.parse(text).feed.get("opensearch_totalresults")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def fetch_all(
    sources: list[FeedSource],
    *,
    delay: float = 3.0,
    timeout: float = 30.0,
    retries: int = 2,
    backoff: float = 2.0,
    max_results: int = MAX_RESULTS,
) -> FetchResult:
    """Fetch every source in turn (arXiv wants them spaced), parse, and collect papers and errors."""
    import aiohttp

    result = FetchResult()
    headers = {"User-Agent": USER_AGENT}
    async with aiohttp.ClientSession(headers=headers) as session:
        for number, source in enumerate(sources):
            if number and delay:
                await asyncio.sleep(delay)
            try:
                papers = await _fetch_source(
                    session,
                    source,
                    delay=delay,
                    timeout=timeout,
                    retries=retries,
                    backoff=backoff,
                    max_results=max_results,
                )
            except (TimeoutError, aiohttp.ClientError) as exc:
                message = f"{source.spec}: fetch failed ({type(exc).__name__}: {exc}); skipped"
                log.warning(message)
                result.errors.append(message)
                continue
            except LoadError as exc:
                message = f"{source.spec}: unreadable feed: {exc}; skipped"
                log.warning(message)
                result.errors.append(message)
                continue
            result.papers.extend(papers)
    return result
