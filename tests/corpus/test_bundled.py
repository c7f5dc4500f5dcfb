"""The bundled papers carry their arXiv author lists (sources in corpus/bundled/SOURCES.md)."""

import json

from bot.cli import main
from corpus.formats.seed import BUNDLED_METADATA, load_seed_metadata
from corpus.home import BUNDLED_DIR, bundled_papers

# Papers whose authors could not be found in a trustworthy public source; none so far.
AUTHORS_UNKNOWN: set[str] = set()


def test_every_bundled_paper_has_authors():
    papers = bundled_papers()
    assert len(papers) == 13
    missing = sorted(p.id for p in papers if not p.authors and p.id not in AUTHORS_UNKNOWN)
    assert missing == []
    assert all(name.strip() for p in papers for name in p.authors)


def test_metadata_authors_are_what_the_loader_gives():
    """Every metadata.jsonl line lists authors, and the loaded papers carry exactly those names."""
    rows = load_seed_metadata(BUNDLED_METADATA)
    assert all(row.authors for row in rows if row.arxiv_id not in AUTHORS_UNKNOWN)
    by_id = {p.id: p for p in bundled_papers()}
    for row in rows:
        assert by_id[row.arxiv_id].authors == list(row.authors), row.arxiv_id


def test_known_author_lists():
    by_id = {p.id: p for p in bundled_papers()}
    assert by_id["2102.06171"].authors == ["Andrew Brock", "Soham De", "Samuel L. Smith", "Karen Simonyan"]
    flamingo = by_id["2204.14198"].authors
    assert len(flamingo) == 27 and flamingo[0] == "Jean-Baptiste Alayrac" and flamingo[-1] == "Karen Simonyan"
    gemini = by_id["2312.11805"].authors  # arXiv lists the team, then every member
    assert gemini[0] == "Gemini Team" and len(gemini) > 1000 and gemini[-1] == "Oriol Vinyals"
    assert by_id["2403.05530"].authors[:2] == ["Machel Reid", "Nikolay Savinov"]  # from the seed file's heading


def test_sources_file_names_every_bundled_paper():
    sources = (BUNDLED_DIR / "SOURCES.md").read_text(encoding="utf-8")
    for row in load_seed_metadata(BUNDLED_METADATA):
        assert row.arxiv_id in sources


def test_cli_shows_the_authors(capsys, home):
    assert main(["paper", "2204.14198", "--json", "--home", str(home)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["paper"]["authors"][:3] == ["Jean-Baptiste Alayrac", "Jeff Donahue", "Pauline Luc"]
    assert len(data["paper"]["authors"]) == 27

    assert main(["paper", "2204.14198", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "Jean-Baptiste Alayrac, Jeff Donahue" in out

    assert main(["corpus", "--json", "--home", str(home)]) == 0
    assert json.loads(capsys.readouterr().out)["papers"] == 13

    assert main(["cite", "2102.06171", "--home", str(home)]) == 0
    assert "Brock" in capsys.readouterr().out
