"""What a shipped model file records about how it was made: the script, its data and the commit.

A model file outlives the code that fitted it; naming the script, the data and the commit in the file
lets anyone refit it and say whether a change of behaviour came from the model or the code.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def made_by(script: str, data: str, argv: list[str] | None = None) -> dict[str, str]:
    """{"script", "data", "commit"}: the commit is HEAD, marked "+changes" when the tree had uncommitted edits."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    commit = git("rev-parse", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += "+changes"
    command = " ".join(["python", f"training/{script}", *(argv or [])])
    return {"script": f"training/{script}", "command": command, "data": data, "commit": commit}
