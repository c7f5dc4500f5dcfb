"""arXiv feeds: real RSS/Atom shapes, bad feeds, and fetching from a local server (never the network)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from corpus.feeds import FeedSource, fetch_all
from corpus.loaders import LoadError, load_path
from corpus.store import Store
from tests.conftest import FIXTURES


def test_rss_listing_with_cross_lists_replacements_and_missing_fields():
    papers = {p.id: p for p in load_path(FIXTURES / "arxiv_cs_LG.rss")}
    assert set(papers) == {"2403.04001", "2403.03002", "2403.05530", "2403.04999"}
    new = papers["2403.04001"]
    assert new.title == "Scaling $\\ell_1$ Regularised Transformers & the Lottery Ticket"  # entities + LaTeX markup
    assert new.abstract.startswith("We study sparse transformers with $\\ell_1$ penalties & show")  # preamble removed
    assert new.authors == ["Alice Smith", "Bob Jones", "Carol White"] and new.categories == ["cs.LG", "cs.AI"]
    assert papers["2403.03002"].categories[0] == "cs.CL"  # a cross-list keeps its primary category first
    assert papers["2403.05530"].version == 2  # a replacement
    assert papers["2403.04999"].authors == [] and papers["2403.04999"].categories == []


def test_a_replacement_updates_the_stored_paper(tmp_path):
    with Store(tmp_path / "s.sqlite3") as store:
        store.ingest(load_path(FIXTURES / "arxiv_api.atom"))  # Gemini 1.5 v4
        report = store.ingest(load_path(FIXTURES / "arxiv_cs_LG.rss"))  # carries v2: older, only fills blanks
        assert report.added == 3 and report.updated == 1  # the announcement day, which v4 from the API lacked
        gemini = store.get("2403.05530")
        assert gemini.version == 4 and str(gemini.published) == "2024-03-08" and len(gemini.authors) == 2


def test_empty_and_malformed_feeds(tmp_path):
    empty = tmp_path / "empty.rss"
    empty.write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>cs.LG</title></channel></rss>')
    assert load_path(empty) == []
    broken = tmp_path / "broken.rss"
    broken.write_text((FIXTURES / "arxiv_cs_LG.rss").read_text()[:1500])
    with pytest.raises(LoadError, match="malformed feed"):
        load_path(broken)


def test_feed_specs():
    assert FeedSource(spec="cs.LG").url == "https://rss.arxiv.org/rss/cs.LG"
    api = FeedSource(spec="search:abs:DeepMind")
    assert api.is_api and "search_query=abs%3ADeepMind" in api.url and "sortBy=submittedDate" in api.url


async def fetch_from_local_server(tmp_path) -> tuple:
    calls: dict[str, int] = {}
    rss = (FIXTURES / "arxiv_cs_LG.rss").read_bytes()

    async def good(request):
        calls["good"] = calls.get("good", 0) + 1
        assert "paperbot" in request.headers["User-Agent"]
        return web.Response(body=rss, content_type="application/rss+xml")

    async def slow(request):
        calls["slow"] = calls.get("slow", 0) + 1
        await asyncio.sleep(5)
        return web.Response(body=rss)

    async def flaky(request):
        calls["flaky"] = calls.get("flaky", 0) + 1
        if calls["flaky"] == 1:
            return web.Response(status=503)
        return web.Response(body=(FIXTURES / "arxiv_api.atom").read_bytes(), content_type="application/atom+xml")

    async def garbage(request):
        return web.Response(body=b"<rss><channel><item><title>cut", content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/good", good)
    app.router.add_get("/slow", slow)
    app.router.add_get("/flaky", flaky)
    app.router.add_get("/garbage", garbage)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        sources = [FeedSource(spec=f"http://127.0.0.1:{port}/{name}") for name in ("slow", "good", "garbage", "flaky")]
        result = await fetch_all(sources, delay=0.01, timeout=0.3, retries=1, backoff=0.01)
    finally:
        await runner.cleanup()
    return result, calls


def test_fetch_skips_failing_feeds_and_keeps_the_rest(tmp_path):
    result, calls = asyncio.run(fetch_from_local_server(tmp_path))
    ids = {p.id for p in result.papers}
    assert {"2403.04001", "2403.05530", "hep-th/9901001"} <= ids  # good + flaky (after a retry)
    assert calls["slow"] == 2 and calls["flaky"] == 2  # one retry each
    assert len(result.errors) == 2
    assert any("/slow" in e and "TimeoutError" in e for e in result.errors)
    assert any("/garbage" in e and "unreadable feed" in e for e in result.errors)


def test_api_searches_page_through_every_result(monkeypatch):
    import corpus.feeds as feeds

    template = (FIXTURES / "arxiv_api.atom").read_text()
    starts: list[int] = []

    async def api(request):
        start = int(request.query["start"])
        starts.append(start)
        body = template.replace("<opensearch:totalResults", "<opensearch:totalResults").replace(
            ">2</opensearch:totalResults>", ">5</opensearch:totalResults>"
        )
        body = body.replace("2403.05530", f"2403.{start + 10:05d}").replace("hep-th/9901001", f"2403.{start + 11:05d}")
        if start == 4:  # the last page holds one result
            body = body[: body.index("<entry>", body.index("<entry>") + 1)] + "</feed>"
        return web.Response(body=body.encode(), content_type="application/atom+xml")

    async def scenario():
        app = web.Application()
        app.router.add_get("/api/query", api)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        monkeypatch.setenv("PAPERBOT_ARXIV_API_URL", f"http://127.0.0.1:{port}/api/query")
        try:
            return await fetch_all([FeedSource(spec="search:abs:gemini")], delay=0.01)
        finally:
            await runner.cleanup()

    monkeypatch.setattr(feeds, "PAGE_SIZE", 2)
    result = asyncio.run(scenario())
    assert starts == [0, 2, 4] and not result.errors
    assert len({p.id for p in result.papers}) == 5
    assert {p.source for p in result.papers} == {"arXiv search abs:gemini"}
