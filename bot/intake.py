"""Text entering paperbot is made valid Unicode at the door: command-line arguments, question files, Discord.

Python hands over a command-line argument holding bytes that are not UTF-8 as lone surrogates
(PEP 383: b"\\xff" becomes "\\udcff"), and JSON may carry an escaped lone surrogate ("\\udcff") that
`json.loads` keeps. No encoder, SQLite statement or UTF-8 file accepts such text, so each entry
replaces them here, once, with U+FFFD, and no later stage ever sees one:

- the CLI's arguments: `valid_args`, first thing in `bot.cli.main`;
- the CLI's question files (`--batch FILE`, stdin): `valid_file_text` in `bot.cli.common.read_batch`;
- everything Discord sends (messages, command options, button ids): `install_discord_intake` wraps
  discord.py's one JSON decoder, `discord.utils._from_json`, that every gateway event and HTTP
  answer goes through (installed by the Conversation cog's setup, which every bot loads).

The files `ingest` reads keep their own rule (corpus/formats): a record with bytes that are not UTF-8 is
refused with its line and byte, not altered, since it would be stored.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

REPLACEMENT = "\ufffd"


def valid_text(text: str) -> str:
    """`text` with every lone surrogate (an undecodable byte, an escaped half of a pair) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # through UTF-16: a pair of surrogates that belong together becomes its character, a lone one U+FFFD
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def valid_args(argv: list[str]) -> list[str]:
    return [valid_text(arg) for arg in argv]


def valid_payload(value: Any) -> Any:
    """A decoded JSON value with every string in it (keys too) made valid."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, list):
        return [valid_payload(item) for item in value]
    if isinstance(value, dict):
        return {valid_payload(key): valid_payload(item) for key, item in value.items()}
    return value


def valid_file_text(data: bytes) -> str:
    """A question file's bytes as text: bytes that are not UTF-8 become U+FFFD (a BOM is dropped)."""
    return data.decode("utf-8-sig", "replace")


def valid_json_line(line: str) -> str:
    """One JSON Lines line with its escaped lone surrogates replaced; re-encoded only when it may hold one."""
    if "\\ud" not in line.lower():
        return line
    try:
        return json.dumps(valid_payload(json.loads(line)), ensure_ascii=False)
    except ValueError:
        return line  # not JSON: the caller's parser says where


def _may_hold_surrogates(text: Any) -> bool:
    """Whether a JSON text has an escaped surrogate in it (the only way one gets into valid UTF-8 JSON)."""
    if isinstance(text, str):
        return "\\ud" in text.lower()
    return b"\\ud" in bytes(text).lower()


def install_discord_intake() -> None:
    """Make every payload discord.py decodes valid Unicode (idempotent)."""
    import discord.utils

    decode = discord.utils._from_json
    if getattr(decode, "paperbot_intake", False):
        return

    @functools.wraps(decode)
    def from_json(text: Any, _decode: Callable[[Any], Any] = decode) -> Any:
        data = _decode(text)
        return valid_payload(data) if _may_hold_surrogates(text) else data

    from_json.paperbot_intake = True  # type: ignore[attr-defined]
    discord.utils._from_json = from_json
