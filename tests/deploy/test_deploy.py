"""What can be checked of deploy/ without Docker or systemd: the files agree with the code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.settings import Settings
from tests.conftest import user_env

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
GOOD_TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


def cli_commands() -> set[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return set(action.choices)


def dockerfile() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_dockerfile_runs_as_non_root_with_a_healthcheck_and_real_commands():
    instructions = dockerfile()
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1] not in {"root", "0"}
    cmd = next(arg for op, arg in instructions if op == "CMD")
    health = next(arg for op, arg in instructions if op == "HEALTHCHECK")
    assert '"paperbot", "serve"' in cmd and '"paperbot", "check"' in health
    used = set(
        re.findall(
            r'paperbot"?,?\s*"?(\w+)', " ".join(arg for op, arg in instructions if op in {"RUN", "CMD", "HEALTHCHECK"})
        )
    )
    assert used and used <= cli_commands(), f"commands not in the CLI: {used - cli_commands()}"
    assert any(op == "RUN" and "pip install ." in arg for op, arg in instructions)  # from the repo's own files


def test_systemd_unit():
    unit = (DEPLOY / "paperbot.service").read_text()
    for option in ("DynamicUser=yes", "StateDirectory=paperbot", "NoNewPrivileges=yes", "ProtectSystem=strict"):
        assert option in unit
    for command in re.findall(r"^Exec\w+=\S+/paperbot (\w+)", unit, re.MULTILINE):
        assert command in cli_commands()
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here; the unit's options were checked as text only")
    result = subprocess.run([analyze, "verify", str(DEPLOY / "paperbot.service")], capture_output=True, text=True)
    problems = [
        line
        for line in result.stderr.splitlines()
        if "paperbot.service" in line and "/opt/paperbot" not in line and "EnvironmentFile" not in line
    ]
    assert not problems, problems


def test_env_example_and_settings_model_name_the_same_settings():
    example = {
        line.split("=", 1)[0]
        for line in (DEPLOY / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    model = {field.validation_alias for field in Settings.model_fields.values()}
    assert example == model


def run_check(home: Path, *, env_extra: dict | None = None, user: str | None = None) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": GOOD_TOKEN,
        **(user_env() if user is None else {}),  # the run's HOME (another user keeps its own)
        **(env_extra or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "check", "--home", str(home)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(home.parent),
        user=user,
        timeout=60,
        check=False,
    )


def make_home(home: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "corpus", "--home", str(home)],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_check_on_a_fresh_home(tmp_path):
    # serve would create a brand-new home, so check passes and says so (it fails exactly when serve would)
    result = run_check(tmp_path / "fresh")
    assert result.returncode == 0, result.stdout
    assert "warning: home" in result.stdout and "paperbot corpus" in result.stdout
    assert not (tmp_path / "fresh").exists()  # check creates nothing
    make_home(tmp_path / "fresh")
    result = run_check(tmp_path / "fresh")
    assert result.returncode == 0, result.stdout
    assert "ok: index present and fresh (13 papers)" in result.stdout and GOOD_TOKEN not in result.stdout


def test_check_on_a_corrupted_store(tmp_path):
    home = tmp_path / "home"
    make_home(home)
    (home / "papers.sqlite3").write_bytes(b"this is not a database" * 100)
    for extra in home.glob("papers.sqlite3-*"):
        extra.unlink()
    result = run_check(home)
    assert result.returncode == 1 and "problem: store" in result.stdout and "backup" in result.stdout
    assert "Traceback" not in result.stderr


def test_check_without_a_token(tmp_path):
    home = tmp_path / "home"
    make_home(home)
    result = run_check(home, env_extra={"DISCORD_TOKEN": "not-a-token"})
    assert (
        result.returncode == 1 and "DISCORD_TOKEN is malformed" in result.stdout and "not-a-token" not in result.stdout
    )


def test_check_on_an_unwritable_home(tmp_path):
    home = tmp_path / "home"
    make_home(home)
    locked = _lock(home)
    try:
        result = run_check(home)
    finally:
        _unlock(home, locked)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not writable" in result.stdout


def _lock(home: Path) -> str:
    """Make the home unwritable. Root ignores mode bits, so as root the folder is made immutable."""
    if os.geteuid() != 0:
        home.chmod(0o555)
        return "chmod"
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(home)], capture_output=True).returncode != 0:
        pytest.skip(
            "running as root on a file system where chattr +i is not available: cannot make a folder unwritable"
        )
    return "chattr"


def _unlock(home: Path, how: str) -> None:
    if how == "chmod":
        home.chmod(0o755)
    else:
        subprocess.run(["chattr", "-i", str(home)], check=True)


def test_pip_install_ships_every_module_and_data_file():
    """`pip install .` (Docker, systemd) packages what setuptools' config finds, not what the checkout has:
    a folder left out (bot/cogs once was) works in tests run from the checkout and fails when installed."""
    import tomllib

    from setuptools import find_namespace_packages

    from bot.main import COGS

    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set(find_namespace_packages(where=str(root), include=config["packages"]["find"]["include"]))
    needed = {
        str(folder.relative_to(root)).replace("/", ".")
        for top in ("corpus", "retrieval", "bot")
        for folder in [root / top, *(root / top).rglob("*")]
        if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py"))
    }
    assert needed <= found
    assert {cog.rsplit(".", 1)[0] for cog in COGS} <= found
    data = config["package-data"]
    shipped = {
        str(path.relative_to(root))
        for package, patterns in data.items()
        for pattern in patterns
        for path in (root / package.replace(".", "/")).glob(pattern)
    }
    models = {str(p.relative_to(root)) for ext in ("*.json", "*.json.gz") for p in (root / "retrieval").rglob(ext)}
    assert models and models <= shipped, models - shipped
    bundled = [p for pattern in data["corpus"] for p in (root / "corpus").glob(pattern)]
    assert {p.name for p in bundled} == {p.name for p in (root / "corpus" / "bundled").iterdir()}


def _distribution(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): `rouge_score` and `Rouge-Score` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_third_party_import_is_a_declared_dependency():
    """CI builds a fresh venv from pyproject only: a module that is merely installed alongside another
    (annotated_types comes with pydantic) must not be imported unless pyproject names it."""
    import ast
    import tomllib
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    declared = {_distribution(re.split(r"[<>=!~\[;\s]", r, maxsplit=1)[0]) for r in requirements}
    ours = {"corpus", "retrieval", "bot"}
    imported: dict[str, str] = {}
    for top in sorted(ours):
        for path in sorted((ROOT / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    imported.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    owners = packages_distributions()
    undeclared = {
        module: where
        for module, where in imported.items()
        if module not in sys.stdlib_module_names
        and module not in ours
        and not {_distribution(d) for d in owners.get(module, [module])} & declared
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
