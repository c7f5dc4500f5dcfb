"""The README keeps its promises: its settings table matches the settings model, and its `paperbot` commands
are real — each is parsed by the CLI's own parser, and the ones that are safe offline run on a temp home.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()

OWN_PAPERS_BLOCK = [
    "paperbot ingest arxiv-metadata-oai-snapshot.json.gz --skip-bad",
    "paperbot ingest mine.jsonl",
    "paperbot ingest perceiver.atom cs.CL.rss",
    "paperbot ingest oai-pages/",
    "paperbot ingest notes.txt",
]
# Commands the README shows that this test parses but does not run, and what runs them instead.
NOT_RUN_HERE = {
    "paperbot serve": "needs Discord: tests/bot/test_serve.py runs it against the local fake",
    "paperbot sync": "needs Discord: tests/bot/test_cli_messages.py runs it against a closed local port",
    "paperbot eval retrieval --split test": "minutes of benchmark: tests/bot/test_cli.py::test_eval_prints_both_retrieval_stages_and_the_evidence_figures",
    "paperbot eval evidence --split dev": "minutes of benchmark: tests/bot/test_cli.py::test_eval_prints_both_retrieval_stages_and_the_evidence_figures",
    "paperbot eval retrieval --split train": "a tuning run (minutes); its figures are in the Quality section",
    "paperbot eval tldr --split test": "a benchmark run (minutes); tests/bot/test_cli_messages.py checks its ROUGE message",
    "paperbot eval answerability": "a benchmark run (about 20 s): tests/retrieval/test_answerability.py::test_eval_answerability_floors runs the same function",
    "paperbot harvest": "needs arXiv: tests/corpus/test_harvest.py runs it against a local fake OAI-PMH server",
    "paperbot harvest --set cs --categories cs.LG,cs.CL": "needs arXiv: tests/corpus/test_harvest.py (local fake)",
    "paperbot harvest --set cs --categories cs.LG,cs.CL --from 2024-01-01": "needs arXiv: tests/corpus/test_harvest.py",
    "paperbot fetch": "needs arXiv: tests/bot/test_cli_messages.py runs fetch against a local server",
    **{command: "test_the_add_your_own_papers_block_runs runs it in its block" for command in OWN_PAPERS_BLOCK},
    "paperbot ingest ../shared/data/scifact/corpus.jsonl": "tests/bot/test_cli.py::test_ingest_scifact_under_the_documented_time",
}
# Fragments quoted in prose ("try `paperbot search`"): run, and expected to give their usage line.
FRAGMENTS = {"paperbot search": 2, "paperbot search --rerank": 2}
PLACEHOLDER = re.compile(r"\[|\\\||\.\.\.|\b(QUESTION|QUERY|ID|PATH|FILE|DIR|TIME|N|Y|A|K|F|S)\b")


def readme_commands() -> list[str]:
    """Every `paperbot …` command in code spans and bash blocks, without env assignments or a timing prefix."""
    blocks = re.findall(r"```bash\n(.*?)```", README, re.DOTALL)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", README, flags=re.DOTALL))
    found = []
    for snippet in [line for block in blocks for line in block.splitlines()] + spans:
        for part in snippet.split("&&"):
            part = re.sub(r"\s+# .*$", "", part.strip())  # a shell comment after the command
            part = re.sub(r"^(\s*[A-Z_]+=\S*\s+)+", "", part).removeprefix("/usr/bin/time ")
            if part.startswith("paperbot "):
                found.append(part)
    return list(dict.fromkeys(found))


def test_the_readme_has_commands_to_check():
    commands = readme_commands()
    assert 'paperbot ask "how do you train transformers without normalisation?"' in commands
    assert len(commands) > 20


def subcommand_options(name: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[name]
    return {opt for action in sub._actions for opt in action.option_strings}


@pytest.mark.parametrize("command", [c for c in readme_commands() if PLACEHOLDER.search(c)])
def test_every_synopsis_names_a_real_command_and_real_options(command):
    words = command.split()
    assert words[1] in next(a for a in build_parser()._actions if a.dest == "command").choices
    options = set(re.findall(r"--[a-z-]+", command))
    assert options <= subcommand_options(words[1]), options - subcommand_options(words[1])


CONCRETE = [c for c in readme_commands() if not PLACEHOLDER.search(c)]


@pytest.mark.parametrize("command", CONCRETE)
def test_every_concrete_command_parses(command):
    build_parser().parse_args(shlex.split(command)[1:])  # a UserError (exit 2) here fails the test


@pytest.fixture(scope="module")
def readme_home(tmp_path_factory):
    return tmp_path_factory.mktemp("readme") / "home"


@pytest.mark.parametrize("command", [c for c in CONCRETE if c not in NOT_RUN_HERE])
def test_every_offline_command_runs(command, readme_home, capsys, monkeypatch):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.setenv("PAPERBOT_HOME", str(readme_home))
    monkeypatch.chdir(readme_home.parent)
    argv = shlex.split(command)[1:]
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if command in FRAGMENTS:
        assert code == FRAGMENTS[command], err
    elif argv[0] == "check":  # healthy once the first command has built the home; a missing token is a problem
        assert code in {0, 1} and "problem: store" not in out, out
    else:
        assert code == 0, err
    if "--json" in argv:
        json.loads(out)


def test_commands_not_run_here_are_still_in_the_readme():
    assert set(NOT_RUN_HERE) <= set(readme_commands()), set(NOT_RUN_HERE) - set(readme_commands())


def readme_default(value: object) -> str:
    """How the settings table writes a default."""
    if value is None:
        return "(none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, dt.time):
        return f"`{value:%H:%M}`"
    return f"`{value}`"


def test_the_settings_table_matches_the_settings_model():
    section = README.split("## Settings reference", 1)[1].split("\n## ", 1)[0]
    rows = {
        m.group(1): m.group(2).strip() for m in re.finditer(r"^\| `([A-Z_]+)` \| ([^|]+) \|", section, re.MULTILINE)
    }
    model = {str(field.validation_alias): field for field in Settings.model_fields.values()}
    assert set(rows) == set(model), (
        f"only in README: {set(rows) - set(model)}; only in the model: {set(model) - set(rows)}"
    )
    for name, field in model.items():
        default = None if field.default_factory is not None and not field.default_factory() else field.get_default()
        assert rows[name].startswith(readme_default(default)), (name, rows[name], default)


def test_the_add_your_own_papers_block_runs(tmp_path):
    """The README's "Add your own papers" block through bash, with stand-ins for the files a reader downloads
    (the `curl` lines are left out: no network in tests)."""
    import gzip
    import os
    import shutil
    import subprocess
    import sys

    block = re.search(r"### Add your own papers\n\n```bash\n(.*?)```", README, re.DOTALL).group(1)
    real = ROOT / "tests" / "data"
    (tmp_path / "arxiv-metadata-oai-snapshot.json.gz").write_bytes(
        gzip.compress((real / "real" / "snapshot_lines.jsonl").read_bytes())
    )
    shutil.copy(real / "arxiv_api.atom", tmp_path / "perceiver.atom")
    shutil.copy(real / "arxiv_cs_LG.rss", tmp_path / "cs.CL.rss")
    (tmp_path / "oai-pages").mkdir()
    shutil.copy(real / "real" / "oaipmh_arXiv_astro-ph_2013.xml", tmp_path / "oai-pages")
    lines = [line for line in block.splitlines() if not line.startswith("curl ")]
    assert len(lines) < len(block.splitlines()) and sum(line.startswith("paperbot ") for line in lines) == 6
    script = 'set -e\npaperbot() { python -m bot.cli "$@"; }\n' + "\n".join(lines)
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": str(ROOT),
        "PAPERBOT_HOME": str(tmp_path / "home"),
    }
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.count("0 rejected") == 5  # every ingest stored its file
    assert "22 papers, published" in result.stdout and "the file mine.jsonl" in result.stdout  # `paperbot corpus`
