"""Network waits longer than 2 s say what they are waiting for: one line on stderr, never silence.

`announced(what)` around any wait; `announcing_urllib()` puts it around every urllib request a
command makes (the OAI-PMH harvest, a model download), naming the host and the request.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import urllib.request
from collections.abc import Iterator

NOTICE_AFTER = 2.0  # seconds of waiting before the line


@contextlib.contextmanager
def announced(what: str, after: float = NOTICE_AFTER) -> Iterator[None]:
    """Print "paperbot: waiting for WHAT …" on stderr if the block takes longer than `after` seconds."""

    def say() -> None:
        with contextlib.suppress(Exception):
            print(f"paperbot: waiting for {what} (still going; Ctrl-C stops it)", file=sys.stderr, flush=True)

    timer = threading.Timer(after, say)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def describe(request: urllib.request.Request, limit: int = 160) -> str:
    url = request.full_url
    shown = url if len(url) <= limit else url[:limit] + "…"
    return f"{request.host} to answer {shown}"


class _AnnouncingHTTP(urllib.request.HTTPHandler):
    def http_open(self, req):  # type: ignore[override]
        with announced(describe(req)):
            return super().http_open(req)


class _AnnouncingHTTPS(urllib.request.HTTPSHandler):
    def https_open(self, req):  # type: ignore[override]
        with announced(describe(req)):
            return super().https_open(req)


@contextlib.contextmanager
def announcing_urllib() -> Iterator[None]:
    """While the block runs, every `urllib.request.urlopen` announces a wait over NOTICE_AFTER seconds."""
    saved = urllib.request._opener  # type: ignore[attr-defined]
    urllib.request.install_opener(urllib.request.build_opener(_AnnouncingHTTP, _AnnouncingHTTPS))
    try:
        yield
    finally:
        urllib.request._opener = saved  # type: ignore[attr-defined]
