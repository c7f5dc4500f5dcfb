"""Property test of the CLI's promise: whatever the options and inputs, every subcommand ends with exit status
0, 1 or 2, no traceback on stderr, valid JSON on stdout whenever --json was given, and bounded output.

Hypothesis drives `bot.cli.main([...])` in-process (stdout, stderr and stdin swapped for buffers) on one
home, with a fixed seed (`derandomize`) so CI sees the same examples every run; a few subprocess runs check
the same through `python -m bot.cli`. Nothing leaves 127.0.0.1: Discord and arXiv's URLs point at a closed
local port, and `fetch` is only given local URLs or names that resolve to them.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import discord
import pytest
import yarl
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import corpus.feeds
import corpus.harvest
from bot.cli import main
from tests.conftest import user_env

ROOT = Path(__file__).resolve().parents[2]
GOOD_TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
MAX_OUT, MAX_ERR = 200_000, 20_000
EXAMPLES = settings(
    max_examples=int(os.environ.get("PAPERBOT_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def no_wait(seconds: float) -> None:
    """harvest's `sleep`, for tests: retries happen at once."""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One home, a tiny benchmark folder, a folder for generated files; network pointed at a closed port."""
    root = tmp_path_factory.mktemp("cli-property")
    port = closed_port()
    dead = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as patch:
        for name in ("DISCORD_TOKEN", "DISCORD_TOKEN_FILE", "PAPERBOT_FEEDS", "PAPERBOT_HOME"):
            patch.delenv(name, raising=False)
        patch.setenv("PAPERBOT_FETCH_DELAY", "0")
        patch.setenv("PAPERBOT_EVAL_CACHE", str(root / "eval-cache"))  # `eval vectors` on the tiny benchmark
        patch.chdir(root)  # no .env here
        patch.setattr(discord.http.Route, "BASE", f"{dead}/api/v10")
        patch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(f"ws://127.0.0.1:{port}/"))
        for name in ("PAPERBOT_ARXIV_API_URL", "PAPERBOT_ARXIV_RSS_URL", "PAPERBOT_ARXIV_OAI_URL"):
            patch.setenv(name, f"{dead}/{name.lower()}")  # categories, searches and harvest all go to a closed port
        # the real fetch and harvest, without seconds (a minute, for harvest) of backoff against the closed port
        patch.setattr(corpus.feeds.fetch_all, "__kwdefaults__", {**corpus.feeds.fetch_all.__kwdefaults__, "backoff": 0})
        patch.setattr(
            corpus.harvest.harvest, "__kwdefaults__", {**corpus.harvest.harvest.__kwdefaults__, "sleep": no_wait}
        )
        bench = root / "bench" / "scifact"
        (bench / "qrels").mkdir(parents=True)
        (bench / "corpus.jsonl").write_text(
            json.dumps({"id": "1", "title": "Vitamin D", "abstract": "Vitamin D raises bone density."}) + "\n"
        )
        (bench / "queries.jsonl").write_text(json.dumps({"query_id": "q", "text": "vitamin D bone"}) + "\n")
        (bench / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\t1\t1\n")
        files = root / "files"
        files.mkdir()
        home = root / "home"
        run_main(["corpus", "--home", str(home)])
        yield {"home": home, "bench": root / "bench", "files": files, "dead": dead, "root": root}


def run_main(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


def check_promise(argv: list[str], code: int, out: str, err: str) -> None:
    assert code in {0, 1, 2}, (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    assert len(out) <= MAX_OUT and len(err) <= MAX_ERR, (argv, len(out), len(err))
    if "--json" in argv and "-h" not in argv and "--help" not in argv:
        if "--batch" not in argv:
            assert out.strip(), (argv, err)
        if out.strip():
            try:
                json.loads(out)
            except json.JSONDecodeError:  # --batch: one object a line, the error object last
                for line in out.splitlines():
                    json.loads(line)


# --- strategies: what a user (or a cat on the keyboard) might type -------------------------------------------

words = st.text(st.characters(blacklist_categories=("Cs",)), max_size=120)
topics = st.lists(
    st.sampled_from(["transformers", "normalisation", "gemini", "long", "context", "perceiver", "image", "training"]),
    min_size=1,
    max_size=4,
).map(" ".join)
typed = st.one_of(
    topics,
    words,
    st.sampled_from(["", " ", "?!", "-", "--", "-1", "zebra " * 600]),
)


def numbers(low: int, high: int) -> st.SearchStrategy[str]:
    """Mostly values in low..high (so commands get past argparse), and any integer or junk the rest of the time."""
    valid = st.integers(low, high).map(str)
    return st.one_of(
        valid,
        valid,
        valid,
        st.integers(-(10**12), 10**12).map(str),
        st.sampled_from(["0", "-1", str(low - 1), str(high + 1), "abc", "", " 5", "1e3", "٣"]),
    )


dates = st.one_of(st.dates().map(lambda d: d.isoformat()), st.sampled_from(["2024-03-08", "08/03/2024", ""]), words)
records = st.one_of(
    st.fixed_dictionaries({"id": words, "text": words}),
    st.fixed_dictionaries(
        {"id": st.integers(1, 99999).map(lambda n: f"2501.{n:05d}"), "title": topics, "abstract": typed}
    ),
    st.fixed_dictionaries({"id": st.sampled_from(["2501.00001", "x", "", "2403.05530"]), "abstract": words}),
    st.dictionaries(st.sampled_from(["id", "title", "abstract", "text", "sentences"]), words),
)
json_lines = st.lists(records, max_size=4).map(lambda rows: "".join(json.dumps(r) + "\n" for r in rows))
contents = st.one_of(st.binary(max_size=400), words, json_lines, json_lines)
suffixes = st.sampled_from([".jsonl", ".txt", ".json", ".html", ".csv", ".atom", ".rss", ".gz", ""])
_counter = itertools.count()


@st.composite
def a_file(draw, world) -> str:
    body, suffix = draw(contents), draw(suffixes)
    path = world["files"] / f"f{next(_counter)}{suffix}"
    path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass"))
    return str(path)


def option(name: str, values) -> st.SearchStrategy[list[str]]:
    return st.one_of(st.just([]), values.map(lambda v: [name, v]))


@st.composite
def command(draw, world, name: str) -> tuple[list[str], str]:
    """(argv, stdin) for the subcommand `name` with random options and inputs."""
    stdin = ""
    batch = st.one_of(st.just([]), st.builds(lambda f: ["--batch", f], a_file(world)), st.just(["--batch", "-"]))
    if name == "ask":
        argv = ["ask", draw(typed)] + draw(option("--max-chars", numbers(80, 4000)))
        argv += draw(option("--max-sentences", numbers(1, 10)))
        argv += draw(batch)
    elif name == "search":
        argv = ["search", draw(typed)] + draw(option("--k", numbers(1, 100)))
        argv += draw(option("--year-from", numbers(1990, 2030))) + draw(option("--year-to", numbers(1990, 2030)))
        argv += draw(option("--author", st.one_of(typed, st.sampled_from(["savinov", "Hinton"]))))
        argv += draw(st.sampled_from([[], ["--rerank"]])) + draw(
            st.sampled_from([[], ["--semantic"], ["--no-semantic"]])
        )
        argv += draw(batch)
    elif name == "paper":
        argv = ["paper", draw(st.one_of(typed, st.sampled_from(["2403.05530", "arXiv:2403.05530v2", "x" * 5000])))]
        argv += draw(batch)
    elif name == "ingest":
        argv = ["ingest", *draw(st.lists(a_file(world), min_size=1, max_size=3))]
        argv += draw(st.sampled_from([[], ["--skip-bad"]]))
    elif name == "corpus":
        argv = ["corpus"]
    elif name == "digest":
        argv = ["digest"] + draw(option("--date", dates)) + draw(option("--keywords", typed))
        argv += draw(option("--authors", typed))
    elif name == "fetch":  # names resolve to the closed port; never an outside host
        feeds = st.one_of(words.filter(lambda w: "http" not in w.lower()), st.just(world["dead"] + "/feed"))
        argv = ["fetch", *itertools.chain.from_iterable(["--feed", f] for f in draw(st.lists(feeds, max_size=2)))]
    elif name == "harvest":  # always the closed port: --url is only ever that or absent
        argv = ["harvest"] + draw(option("--set", st.one_of(st.sampled_from(["cs", "math", "physics:hep-th"]), words)))
        argv += draw(option("--categories", st.one_of(st.just("cs.LG,cs.CL"), words)))
        argv += draw(option("--from", dates)) + draw(option("--until", dates))
        argv += draw(option("--delay", st.one_of(st.sampled_from(["0", "3", "-1", "nan", "inf", "x"]), numbers(0, 5))))
        argv += draw(option("--max-pages", numbers(1, 5))) + draw(option("--url", st.just(world["dead"] + "/oai")))
    elif name == "eval":  # always --data: the real benchmarks take minutes
        data = st.sampled_from([str(world["bench"]), str(world["files"]), str(world["root"] / "nowhere")])
        tasks = st.sampled_from(["retrieval", "evidence", "tldr", "answerability", "vectors"])
        argv = ["eval", draw(st.one_of(tasks, words))]
        argv += draw(option("--split", st.one_of(st.sampled_from(["train", "dev", "test"]), words)))
        argv += ["--data", draw(data)]
    elif name == "vectors":  # the real model on the home's papers: a build encodes what ingest added since
        argv = ["vectors", draw(st.one_of(st.sampled_from(["status", "build"]), words))]
    elif name == "model":  # fetch only ever from the closed port (never the hub), into the files folder
        argv = ["model", draw(st.one_of(st.sampled_from(["check", "fetch"]), words))]
        inside = words.filter(lambda w: "/" not in w).map(lambda w: str(world["files"] / w))  # never outside the test
        argv += draw(option("--dest", st.one_of(st.just(str(world["files"] / "model")), a_file(world), inside)))
        argv += draw(option("--sha256", st.one_of(st.just("ab" * 32), words)))
        argv += (
            ["--base-url", draw(st.one_of(st.just(world["dead"] + "/hub/"), words.filter(lambda w: "://" not in w)))]
            if "fetch" in argv
            else []
        )
    elif name in {"serve", "sync"}:
        argv = [name] + (draw(st.sampled_from([[], ["--sync"]])) if name == "serve" else [])
    elif name == "check":
        argv = ["check"] + draw(st.sampled_from([[], ["--no-token"]]))
    else:  # a command word then any mix of real options and text
        vocabulary = st.one_of(
            st.sampled_from(["--k", "--json", "--max-chars", "--date", "--batch", "--nope", "-x", "ask", "search"]),
            typed,
        )
        argv = [draw(st.sampled_from(["ask", "search", "paper", "digest", "corpus", "check", "bogus", "--json"]))]
        argv += draw(st.lists(vocabulary, max_size=5))
    if "--batch" in argv and argv[argv.index("--batch") + 1 :][:1] == ["-"]:
        stdin = draw(st.one_of(words, json_lines))
    argv += draw(st.sampled_from([[], ["--json"]]))
    return argv, stdin


COMMANDS = [
    "ask",
    "search",
    "paper",
    "ingest",
    "corpus",
    "digest",
    "fetch",
    "harvest",
    "eval",
    "vectors",
    "model",
    "check",
    "serve",
    "sync",
    "junk",
]


@pytest.mark.parametrize("name", COMMANDS)
@EXAMPLES
@given(data=st.data())
def test_every_command_keeps_the_promise(world, name, data):
    argv, stdin = data.draw(command(world, name))
    token = data.draw(st.sampled_from([None, GOOD_TOKEN, "garbage"]))
    with pytest.MonkeyPatch.context() as patch:
        if token is not None:
            patch.setenv("DISCORD_TOKEN", token)
        argv = argv + ["--home", str(world["home"])]
        code, out, err = run_main(argv, stdin)
    event(f"{argv[0]} exit {code}")
    check_promise(argv, code, out, err)


@pytest.mark.parametrize(
    "argv",
    [
        ["search", "model", "--k", "101", "--json"],
        ["ask", "zebra " * 20_000, "--max-chars", "100"],
        ["paper", "x" * 50_000, "--json"],
        ["digest", "--date", "2024-03-08", "--keywords", "banana", "--json"],
        ["bogus", "--json"],
    ],
)
def test_the_promise_holds_in_a_real_process(tmp_path, argv):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "PAPERBOT_HOME": str(tmp_path)}
    env.update(user_env())  # the run's HOME: `ask` loads the model, and onnxruntime writes under HOME/.cache
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    check_promise(argv, result.returncode, result.stdout, result.stderr)
    assert len(result.stdout) + len(result.stderr) < 2_000  # the 100 kB inputs are not echoed back


def test_serve_with_discord_unreachable_in_a_real_process(tmp_path):
    port = closed_port()
    code = (
        "import sys, discord, yarl; from bot.cli import main;"
        f"discord.http.Route.BASE = 'http://127.0.0.1:{port}/api/v10';"
        f"discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL('ws://127.0.0.1:{port}/');"
        "sys.exit(main(sys.argv[1:]))"
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "DISCORD_TOKEN": GOOD_TOKEN}
    env.update(user_env())
    for command in ("serve", "sync"):
        argv = [command, "--home", str(tmp_path / "home"), "--json"]
        result = subprocess.run(
            [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
        )
        check_promise(argv, result.returncode, result.stdout, result.stderr)
        assert result.returncode == 1 and json.loads(result.stdout)["error"].startswith("cannot reach Discord")
        assert [line for line in result.stderr.splitlines() if line.startswith("paperbot:")] == [
            f"paperbot: {json.loads(result.stdout)['error']}"
        ]
