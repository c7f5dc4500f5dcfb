"""Issue #26, item 6: small untruths, each pinned. In-process through `bot.cli.main` on a fresh home."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.cli import main
from corpus.models import Paper, arxiv_id_year
from tests.conftest import FIXTURES

REAL = FIXTURES / "real"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "paper_id, year",
    [("1805.11898", 2018), ("0704.0001", 2007), ("2312.11805", 2023), ("hep-th/9608091", 1996), ("math/0101001", 2001)],
)
def test_an_arxiv_id_gives_the_year_when_no_date_does(paper_id, year):
    assert arxiv_id_year(paper_id) == year
    assert Paper(id=paper_id, title="t", abstract="a").year == year  # no date: the id's year
    assert Paper(id=paper_id, title="t", abstract="a", published="1999-01-02").year == 1999  # a date wins
    assert arxiv_id_year("SJ1Xmf-Rb") is None


def test_a_paper_from_a_listing_without_its_date_shows_the_year_of_its_id(capsys, home):
    code, _, err = run(capsys, "ingest", str(REAL / "old_rss_hep-ex_2018-05-23.rdf"), "--home", str(home))
    assert code == 0, err
    # 1805.06430 is an UPDATED entry: the listing's day is not its first version's, so it has no date
    code, out, _ = run(capsys, "search", "hybrid mesons", "--no-semantic", "--json", "--home", str(home))
    [hit] = [h for h in json.loads(out)["hits"] if h["paper_id"] == "1805.06430"]
    assert hit["published"] is None
    code, out, _ = run(capsys, "search", "hybrid mesons", "--no-semantic", "--home", str(home))
    row = next(line for line in out.splitlines() if "1805.06430" in line)
    assert " 2018 " in row
    code, out, _ = run(capsys, "cite", "1805.06430", "--home", str(home))
    assert "year={2018}" in out and "hybrid2018" not in out


def test_a_paper_from_a_listing_without_its_date_is_found_by_the_year_of_its_id(capsys, home):
    code, _, err = run(capsys, "ingest", str(REAL / "old_rss_hep-ex_2018-05-23.rdf"), "--home", str(home))
    code, out, _ = run(
        capsys, "search", "hybrid mesons", "--year-from", "2018", "--no-semantic", "--json", "--home", str(home)
    )
    assert "1805.06430" in [h["paper_id"] for h in json.loads(out)["hits"]]


def test_corpus_text_and_json_say_the_same(capsys, home):
    code, out, _ = run(capsys, "corpus", "--json", "--home", str(home))
    sources = json.loads(out)["sources"]
    assert sum(sources.values()) == 13 and len(sources) > 1
    code, text, _ = run(capsys, "corpus", "--home", str(home))
    for name, count in sources.items():
        assert f"{name}: {count}" in text  # every source by the name and count --json gives it
    assert "13  bundled with paperbot (" in text


def test_the_score_column_names_its_scale(capsys, home):
    code, out, _ = run(capsys, "search", "transformers", "--no-semantic", "--home", str(home))
    header, last = out.splitlines()[0], out.splitlines()[-1]
    assert header.split()[1] == "bm25" and last.startswith("score: BM25")
    code, out, _ = run(capsys, "search", "transformers", "--no-semantic", "--json", "--home", str(home))
    assert json.loads(out)["score_scale"] == "bm25"
    code, out, _ = run(capsys, "search", "transformers", "--rerank", "--home", str(home))
    assert out.splitlines()[0].split()[1] == "rerank"


def test_the_fused_score_says_so(capsys, home):
    pytest.importorskip("onnxruntime")
    code, out, err = run(capsys, "search", "transformers", "--semantic", "--home", str(home))
    if "notice:" in err and "model" in err and out.splitlines()[0].split()[1] == "bm25":
        pytest.skip("no embedding model installed: BM25 alone, and the column says so")
    assert out.splitlines()[0].split()[1] == "fused" and out.splitlines()[-1].startswith("score: fused, 0 to 1")


def test_scitldr_and_scifact_papers_link_to_where_they_can_be_read(capsys, home, tmp_path):
    scitldr = {
        "source": ["We propose FearNet for incremental class learning.", "FearNet is a generative model."],
        "source_labels": [1, 0],
        "rouge_scores": [0.5, 0.1],
        "paper_id": "SJ1Xmf-Rb",
        "target": ["FearNet is a memory efficient neural-network."],
        "title": "FearNet: Brain-Inspired Model for Incremental Learning",
    }
    scifact = {"doc_id": "4983", "title": "Microstructural development", "sentences": ["White matter develops."]}
    path = tmp_path / "datasets.jsonl"
    path.write_text(json.dumps(scitldr) + "\n" + json.dumps(scifact) + "\n")
    code, _, err = run(capsys, "ingest", str(path), "--home", str(home))
    assert code == 0, err
    code, out, _ = run(capsys, "paper", "SJ1Xmf-Rb", "--json", "--home", str(home))
    assert json.loads(out)["paper"]["url"] == "https://openreview.net/forum?id=SJ1Xmf-Rb"
    code, out, _ = run(capsys, "paper", "4983", "--json", "--home", str(home))
    assert json.loads(out)["paper"]["url"] == "https://api.semanticscholar.org/CorpusID:4983"
    code, out, _ = run(capsys, "ask", "what is FearNet?", "--no-semantic", "--json", "--home", str(home))
    citations = json.loads(out)["citations"]
    assert citations and all(c["url"] for c in citations)  # every cited paper links to it


def test_help_on_discord_lists_every_registered_command(tmp_path):
    from bot.main import COGS, make_bot
    from bot.render import help_text
    from bot.settings import Settings

    async def scenario() -> str:
        token = "MTAxMDEwMTAxMDEwMTAxMDEw.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
        settings = Settings(_env_file=None, DISCORD_TOKEN=token, PAPERBOT_DIGEST_RUNNER=False)
        bot = make_bot(settings, tmp_path / "home", sync="never")
        await bot.setup_hook()  # the engine and every cog in COGS, as at start-up; nothing is synced
        assert len(bot.cogs) == len(COGS)
        import discord

        names = [c.name for c in bot.tree.get_commands(type=discord.AppCommandType.chat_input)]
        menus = [c.name for c in bot.tree.get_commands(type=discord.AppCommandType.message)]
        text = help_text(bot.tree)
        await bot.close()
        assert {"ask", "search", "paper", "help", "digest", "cite", "related"} <= set(names)
        for name in names:
            assert f"`/{name}" in text, name
        for name in menus:
            assert f"*{name}*" in text
        return text

    text = asyncio.run(scenario())
    assert "`/digest here|off|subscribe|unsubscribe|list|preview`" in text
    assert "`/search query [k] [year_from] [year_to] [author]`" in text
    assert len(text) <= 2000


def test_help_to_a_mention_is_the_same_text_as_slash_help(tmp_path):
    """ "@paperbot" alone or "@paperbot help" replies with /help's text, made from the registered commands."""
    from bot.main import make_bot
    from bot.render import help_text
    from bot.settings import Settings
    from tests.bot.fake_discord import CHANNEL_ID, FakeDiscord
    from tests.bot.test_end_to_end import TOKEN, check_message

    async def scenario() -> tuple[list[str], str, str]:
        fake = FakeDiscord()
        await fake.start()
        bot = make_bot(Settings(_env_file=None, DISCORD_TOKEN=TOKEN, PAPERBOT_DIGEST_RUNNER=False), tmp_path / "home")
        runner = asyncio.create_task(bot.start(TOKEN))
        try:
            await asyncio.wait_for(fake.ready.wait(), 30)
            await asyncio.wait_for(bot.wait_until_ready(), 30)
            replies = []
            for text in ("", "help", "Help?"):
                start = len(fake.requests)
                await fake.send_mention(text)
                reply = await fake.wait_for(
                    lambda r: r.method == "POST" and r.path == f"/channels/{CHANNEL_ID}/messages", start=start
                )
                check_message(reply.body)
                replies.append(reply.body["content"])
            token = await fake.send_command("help", {})
            slash = await fake.wait_for(lambda r: r.path.endswith("/callback") and token in r.path)
            return replies, slash.body["data"]["content"], help_text(bot.tree)
        finally:
            await bot.close()
            await asyncio.wait_for(runner, 10)
            await fake.stop()

    replies, slash, generated = asyncio.run(scenario())
    assert replies == [generated] * 3 and slash == generated
    assert "`/digest here|off|subscribe|unsubscribe|list|preview`" in generated
