"""Errors the retrieval layer raises for the CLI and the bot to report in one line (kept import-light)."""

from __future__ import annotations

REINSTALL = "reinstall paperbot (pip install --force-reinstall .) to restore it"


class ModelUnusable(Exception):
    """A shipped model file cannot be used; the message names the file and what to do."""

    @classmethod
    def reading(cls, name: str, path: object, exc: BaseException) -> ModelUnusable:
        return cls(f"{name} model {path}: unusable ({type(exc).__name__}: {exc}); {REINSTALL}")
