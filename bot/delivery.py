"""Sending to Discord at most once: stable nonces, retries that reuse them, and which failures are final.

Discord stores a message and can still answer 5xx, or the connection can drop before the
answer arrives. discord.py (2.4 and later) sends every message with a `nonce` and
`enforce_nonce: true` (see `discord.http.handle_message_parameters`), and its own 5xx
retries reuse that payload, so Discord answers a repeat with the message it already has.
But discord.py draws a random nonce per `send` call: a retry by the bot itself would be a
new message. So the bot derives the nonce from what the message is (a digest part, the
reply to one mention) and retries with the same nonce, which Discord deduplicates for a
few minutes. Beyond that window the digest relies on its ledger (corpus.digests).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import discord

log = logging.getLogger(__name__)
T = TypeVar("T")
NONCE_MAX = 25  # Discord: a nonce is an integer or a string of at most 25 characters
RETRY_DELAYS = (1.0, 2.0)  # the bot's own retries after discord.py's, same nonce each time
# A reply to a mention or DM has no later pass to resume it (a digest part has: the next pass sends it), so it
# backs off longer: 5 more tries over 30 s, each after discord.py's own (500/502/504: 5 tries over ~25 s),
# all within the few minutes Discord keeps a nonce, so none of them can post the reply twice.
REPLY_DELAYS = (2.0, 4.0, 8.0, 16.0)


def nonce_for(*key: object) -> str:
    """A stable nonce (24 hex characters) for the message identified by `key`."""
    return hashlib.blake2b(":".join(map(str, key)).encode(), digest_size=12).hexdigest()


def transient(exc: BaseException) -> bool:
    """Worth sending again (with the same nonce): Discord's 5xx, a dropped connection, a timeout."""
    if isinstance(exc, discord.DiscordServerError):
        return True
    if isinstance(exc, discord.HTTPException):
        return exc.status == 429 or exc.status >= 500
    return isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError)


def permanent(exc: BaseException) -> bool:
    """Discord refused this message for good (bad form body, no permission, unknown channel): never retry it."""
    return isinstance(exc, discord.HTTPException) and 400 <= exc.status < 500 and exc.status != 429


async def send_once(send: Callable[[], Awaitable[T]], what: str, delays: tuple[float, ...] | None = None) -> T:
    """`send()`, retried after transient failures (`delays` apart: RETRY_DELAYS unless given); `send` must carry
    the same nonce on every call."""
    for delay in (*(RETRY_DELAYS if delays is None else delays), None):
        try:
            return await send()
        except Exception as exc:
            if delay is None or not transient(exc):
                raise
            log.warning("sending %s failed (%s); retrying in %.0f s with the same nonce", what, _short(exc), delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
