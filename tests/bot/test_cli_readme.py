"""The README and the pages under docs/ keep their promises: the settings table matches the settings model, and
every `paperbot` command they show is real — each is parsed by the CLI's own parser, and the ones that are safe
offline run on a temp home. The README stays a front door (at most 250 lines, the two commands CI runs, a link to
every page) and no relative link in it or in docs/ points at nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shlex
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.settings import Settings
from tests.conftest import NEEDS_BENCHMARK_VECTORS, benchmark_vectors_reason, user_env

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOC_PAGES = sorted((ROOT / "docs").glob("*.md"))
# every document whose commands, tables and links are checked: the README first, then docs/*.md
DOCUMENTS = {"README.md": README, **{f"docs/{page.name}": page.read_text() for page in DOC_PAGES}}
README_MAX_LINES = 250

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
    "paperbot eval retrieval --split train": "a tuning run (minutes); its figures are in docs/quality.md",
    "paperbot eval tldr --split test": "a benchmark run (minutes); tests/bot/test_cli_messages.py checks its ROUGE message",
    "paperbot eval answerability": "a benchmark run (about 20 s): tests/retrieval/test_answerability.py::test_eval_answerability_floors runs the same function",
    "paperbot harvest": "needs arXiv: tests/corpus/test_harvest.py runs it against a local fake OAI-PMH server",
    "paperbot harvest --set cs --categories cs.LG,cs.CL": "needs arXiv: tests/corpus/test_harvest.py (local fake)",
    "paperbot harvest --set cs --categories cs.LG,cs.CL --from 2024-01-01": "needs arXiv: tests/corpus/test_harvest.py",
    "paperbot fetch": "needs arXiv: tests/bot/test_cli_messages.py runs fetch against a local server",
    **{command: "test_the_add_your_own_papers_block_runs runs it in its block" for command in OWN_PAPERS_BLOCK},
    "paperbot ingest ../shared/data/scifact/corpus.jsonl": "tests/bot/test_cli.py::test_ingest_scifact_under_the_documented_time",
    "paperbot eval vectors": "encodes the benchmark corpora (10-20 minutes on two cores) into the eval cache:"
    " tests/bot/test_cli_vectors.py::test_eval_vectors_makes_the_semantic_figures_measurable runs it on six abstracts",
}
# Fragments quoted in prose ("try `paperbot search`"): run, and expected to give their usage line.
FRAGMENTS = {"paperbot search": 2, "paperbot search --rerank": 2, "paperbot model fetch": 2}
PLACEHOLDER = re.compile(r"\[|\\\||\.\.\.|\b(QUESTION|QUERY|ID|PATH|FILE|DIR|TIME|HASH|N|Y|A|K|F|S)\b")


def readme_commands(names: tuple[str, ...] = tuple(DOCUMENTS)) -> list[str]:
    """Every `paperbot …` command in the code spans and bash blocks of the README and docs/*.md (or of the
    documents named), without env assignments or a timing prefix."""
    blocks, spans = [], []
    for text in (DOCUMENTS[name] for name in names):
        blocks += re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
        spans += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
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
    assert len(commands) > 40  # the README alone had 45 before its depth moved to docs/
    assert len(readme_commands(("README.md",))) > 15  # the README's own tour


def test_the_readme_opens_with_the_two_commands_ci_runs():
    first_block = re.search(r"```bash\n(.*?)```", README, re.DOTALL).group(1).splitlines()
    assert first_block == [
        'pip install . && paperbot ask "how do you train transformers without normalisation?"',
        "pip install '.[test]' && pytest",
    ]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == "pip install -q '.[test]' && pytest"  # the same command, quiet


def test_the_readme_is_a_front_door():
    lines = README.splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move depth to docs/"
    assert "## Libraries and why" in README  # the justification of every dependency stays in the README


def _without_code(text: str) -> str:
    """Markdown without fenced blocks and code spans, where brackets and '#' mean nothing."""
    return re.sub(r"`[^`\n]*`", "", re.sub(r"^\s*```.*?^\s*```", "", text, flags=re.DOTALL | re.MULTILINE))


def _anchors(text: str) -> set[str]:
    """The ids GitHub gives a page's headings: lower case, punctuation dropped, spaces as '-', repeats numbered."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(
        r"^#{1,6} +(.+?) *$", re.sub(r"^\s*```.*?^\s*```", "", text, flags=re.DOTALL | re.MULTILINE), re.MULTILINE
    ):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _relative_links(name: str) -> list[tuple[str, Path, str]]:
    """(link as written, file it names, anchor) for every link in a document that is not a web address."""
    found = []
    for target in re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", _without_code(DOCUMENTS[name])):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        found.append((target, (ROOT / name).parent / path if path else ROOT / name, anchor))
    return found


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_every_relative_link_points_to_a_file_that_exists(name):
    links = _relative_links(name)
    for target, path, anchor in links:
        assert path.exists(), f"{name}: ({target}) names {path.relative_to(ROOT)}, which does not exist"
        if anchor:
            assert path.suffix == ".md", f"{name}: ({target}) has an anchor into a file that is not Markdown"
            assert anchor in _anchors(path.read_text()), f"{name}: ({target}): no heading gives #{anchor}"
    if name != "README.md":
        assert any(path.resolve() == ROOT / "README.md" for _, path, _ in links), f"{name} has no way back"


def test_every_docs_page_is_reachable_from_the_readme():
    assert DOC_PAGES, "docs/ holds the depth the README links to"
    linked = {path.resolve() for _, path, _ in _relative_links("README.md")}
    assert set(DOC_PAGES) <= linked, [p.name for p in DOC_PAGES if p not in linked]


def synopsis_parsers(command: str) -> list[argparse.ArgumentParser]:
    """The parsers of the (sub-)commands a synopsis names, checking each word it spells out on the way: a
    sub-command must exist, and a written choice (`retrieval\\|evidence`, `export`) must be one the parser takes."""
    parsers, rest = [build_parser()], command.split()[1:]
    while rest and not re.match(r"[\[\-]|[A-Z]", rest[0]):  # a word spelt out, not a placeholder or an option
        alternatives = rest.pop(0).split("\\|")
        subs = [next((a for a in p._actions if isinstance(a, argparse._SubParsersAction)), None) for p in parsers]
        if all(subs):
            for sub in subs:
                assert set(alternatives) <= set(sub.choices), (alternatives, list(sub.choices))
            parsers = [sub.choices[word] for sub in subs for word in alternatives]
            continue
        for parser in parsers:
            positional = next((a for a in parser._actions if not a.option_strings and a.choices), None)
            assert positional is not None, f"{parser.prog} takes no choice like {alternatives}"
            assert set(alternatives) <= set(positional.choices), (alternatives, list(positional.choices))
        break
    return parsers


@pytest.mark.parametrize("command", [c for c in readme_commands() if PLACEHOLDER.search(c)])
def test_every_synopsis_names_a_real_command_and_real_options(command):
    parsers = synopsis_parsers(command)
    assert len(parsers) >= 1 and parsers[0] is not None
    known = set.intersection(*({opt for action in p._actions for opt in action.option_strings} for p in parsers))
    options = set(re.findall(r"--[a-z0-9-]+", command))
    assert options <= known, options - known


CONCRETE = [c for c in readme_commands() if not PLACEHOLDER.search(c)]


@pytest.mark.parametrize("command", CONCRETE)
def test_every_concrete_command_parses(command):
    build_parser().parse_args(shlex.split(command)[1:])  # a UserError (exit 2) here fails the test


@pytest.fixture(scope="module")
def readme_home(tmp_path_factory):
    return tmp_path_factory.mktemp("readme") / "home"


@pytest.mark.parametrize("command", [c for c in CONCRETE if c not in NOT_RUN_HERE])
def test_every_offline_command_runs(command, readme_home, capsys, monkeypatch):
    if NEEDS_BENCHMARK_VECTORS.match(command) and (reason := benchmark_vectors_reason()):
        pytest.skip(reason)  # the run's eval cache is its own, and empty unless PAPERBOT_TEST_EVAL_CACHE is given
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.setenv("PAPERBOT_HOME", str(readme_home))
    monkeypatch.chdir(readme_home.parent)
    argv = shlex.split(command)[1:]
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if command in FRAGMENTS:
        assert code == FRAGMENTS[command] and "invalid choice" not in err, err  # its own usage, not an unknown command
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
    section = DOCUMENTS["docs/settings.md"].split("## Settings reference", 1)[1].split("\n## ", 1)[0]
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
    """The "Add your own papers" block of docs/formats.md through bash, with stand-ins for the files a reader
    downloads (the `curl` lines are left out: no network in tests)."""
    import gzip
    import os
    import shutil
    import subprocess
    import sys

    block = re.search(r"## Add your own papers\n\n```bash\n(.*?)```", DOCUMENTS["docs/formats.md"], re.DOTALL).group(1)
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
        **user_env(),  # the run's HOME, not the account's
    }
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.count("0 rejected") == 5  # every ingest stored its file
    assert "22 papers, published" in result.stdout and "the file mine.jsonl" in result.stdout  # `paperbot corpus`
