"""Fetching arXiv feeds: the API (searches) and the RSS listings (categories).

Plain asyncio + aiohttp, no Discord: the bot's digest task and `paperbot fetch` both
call `fetch_all`. arXiv asks for 3 s between API calls and a descriptive User-Agent;
a feed that fails after its retries is logged and skipped so the others still count.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from dataclasses import dataclass, field

import aiohttp
from pydantic import BaseModel

from corpus.loaders import LoadError, load_feed
from corpus.models import Paper

log = logging.getLogger(__name__)
USER_AGENT = "paperbot/0.1 (Discord paper-digest bot; +https://github.com/paperbot)"
API_URL = "https://export.arxiv.org/api/query"
RSS_URL = "https://rss.arxiv.org/rss/"


class FeedSource(BaseModel):
    """One configured feed: a category listing ("cs.LG"), an API search ("search:abs:DeepMind") or a URL."""

    spec: str

    @property
    def url(self) -> str:
        spec = self.spec.strip()
        if spec.startswith(("http://", "https://")):
            return spec
        if spec.startswith("search:"):
            query = urllib.parse.urlencode(
                {
                    "search_query": spec.removeprefix("search:"),
                    "sortBy": "submittedDate",
                    "sortOrder": "descending",
                    "max_results": "100",
                }
            )
            return f"{API_URL}?{query}"
        return RSS_URL + spec

    @property
    def is_api(self) -> bool:
        return self.url.startswith(API_URL)


@dataclass
class FetchResult:
    papers: list[Paper] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def fetch_text(session: aiohttp.ClientSession, url: str, timeout: float, retries: int, backoff: float) -> str:
    """GET with a timeout and retries with exponential backoff; raises the last error."""
    last: Exception | None = None
    for attempt in range(retries + 1):
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                if response.status in {429, 500, 502, 503, 504}:
                    raise aiohttp.ClientResponseError(
                        response.request_info, (), status=response.status, message=response.reason or ""
                    )
                response.raise_for_status()
                return await response.text()
        except (TimeoutError, aiohttp.ClientError) as exc:
            last = exc
            if attempt < retries:
                await asyncio.sleep(backoff * 2**attempt)
    assert last is not None
    raise last


async def fetch_all(
    sources: list[FeedSource], *, delay: float = 3.0, timeout: float = 30.0, retries: int = 2, backoff: float = 2.0
) -> FetchResult:
    """Fetch every source in turn (arXiv wants them spaced), parse, and collect papers and errors."""
    result = FetchResult()
    headers = {"User-Agent": USER_AGENT}
    async with aiohttp.ClientSession(headers=headers) as session:
        for number, source in enumerate(sources):
            if number and delay:
                await asyncio.sleep(delay)
            try:
                text = await fetch_text(session, source.url, timeout, retries, backoff)
                papers = load_feed(text, source.url)
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
