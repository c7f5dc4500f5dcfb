"""What every command shares: the error a user can fix, the home's store and index, output and batch input."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel, ValidationError

from bot.intake import valid_file_text, valid_json_line, valid_text
from corpus.home import open_store
from corpus.store import Store
from retrieval.lexical.index import SearchIndex
from retrieval.lexical.sync import open_index, sync_saved

EXIT_USAGE = 2
ECHO_LIMIT = 200  # characters of a user's input repeated back in a message


def cut(text: str, limit: int = ECHO_LIMIT) -> str:
    """`text` up to `limit` characters, then "…": a pasted 100 kB question is not worth repeating."""
    return text if len(text) <= limit else text[:limit] + "…"


class UserError(Exception):
    """A mistake the user can fix: printed as one line, exit status 1 (or `code`)."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


class BatchQuery(BaseModel):
    id: str
    text: str = ""


class Context:
    """The home, its store and (lazily) its index, opened once per command."""

    def __init__(self, home: Path):
        self.home = home
        self.store: Store = open_store(home)
        self._index: SearchIndex | None = None

    def sync_index(self) -> None:
        """Bring the saved index up to the store's state after a write, so the next command starts at once.

        A big change (a first ingest of a large dump) is indexed straight to disk without loading
        the index into this process (`sync_saved`); a command that then asks for `index` loads it.
        """
        if self._index is None:
            self._index = sync_saved(self.home, self.store, workers=min(2, os.cpu_count() or 1))

    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            self._index = open_index(self.home, self.store, workers=min(2, os.cpu_count() or 1))
        return self._index


def emit(args: argparse.Namespace, model: BaseModel, text: Callable[[], str]) -> None:
    print(model.model_dump_json(indent=2) if args.json else text())


def error_json(message: str, code: int) -> str:
    """The documented error object `--json` prints on stdout: {"error": "...", "code": N}."""
    return json.dumps({"error": message, "code": code}, ensure_ascii=False)


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse `type` for a whole number in low..high, so a bad value is a usage line, not a traceback."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{cut(text, 40)!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: give {low}..{high}")
        return value

    parse.__name__ = "number"  # argparse names the type in some messages
    return parse


def field_range(model: type[BaseModel], name: str) -> tuple[int, int]:
    """The ge/le bounds of a model's field, so the CLI's ranges follow the model they feed.

    Read by attribute (pydantic keeps `Field(ge=..., le=...)` as constraint objects with a `ge` or
    `le`), so this needs no import of annotated_types, which pydantic installs but we do not declare.
    """
    metadata = model.model_fields[name].metadata
    low = next(m.ge for m in metadata if getattr(m, "ge", None) is not None)
    high = next(m.le for m in metadata if getattr(m, "le", None) is not None)
    return int(low), int(high)


def read_batch(path: str, model: type[BaseModel]) -> Iterator[BaseModel]:
    """JSON Lines input for --batch (`-` is stdin), validated line by line with a `file:line:` error.

    The door for question files: text that is not valid Unicode is made so here (bot/intake.py).
    """
    try:
        if path == "-":
            stream = getattr(sys.stdin, "buffer", None)  # a text stream without one (a test's StringIO) is str
            lines = (valid_file_text(stream.read()) if stream else valid_text(sys.stdin.read())).splitlines()
            path = "<stdin>"
        else:
            lines = valid_file_text(Path(path).read_bytes()).splitlines()
    except OSError as exc:
        raise UserError(f"{cut(path)}: cannot read batch file: {exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield model.model_validate_json(valid_json_line(line))
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"]) or "record"
            raise UserError(f"{cut(path)}:{number}: {field}: {error['msg']}") from None


def _settings():
    from bot.settings import load_settings

    try:
        return load_settings()
    except ValueError as exc:
        raise UserError(f"bad settings: {exc}", EXIT_USAGE) from None


def checked_home(home: Path) -> Path:
    """The home folder, refused in one line when it is a file (the store would fail with an errno)."""
    if home.exists() and not home.is_dir():
        raise UserError(
            f"--home {cut(str(home))} is a file, not a folder: point --home (or PAPERBOT_HOME) at a folder;"
            " it is created if missing",
            EXIT_USAGE,
        )
    return home


def require_text(value: str | None, what: str) -> str:
    if value is None or not value.strip() or not any(ch.isalnum() for ch in value):
        raise UserError(f"the {what} is empty: type some words, e.g. paperbot {what_example(what)}", EXIT_USAGE)
    return value.strip()


def what_example(what: str) -> str:
    return (
        'ask "how do you train transformers without normalisation?"'
        if what == "question"
        else 'search "vision transformers"'
    )
