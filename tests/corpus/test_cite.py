"""Citations: BibTeX in arXiv's form that a BibTeX parser reads back, and a plain reference."""

import bibtexparser

from corpus.cite import bibtex, plain_reference
from corpus.models import Paper


def parse_one(text: str) -> dict:
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks, library.failed_blocks
    [entry] = library.entries
    return {"type": entry.entry_type, "key": entry.key, **{f.key: f.value for f in entry.fields}}


def test_arxiv_form_parses_back():
    paper = Paper(
        id="2204.14198v2",
        title="Flamingo: a Visual Language Model for Few-Shot Learning",
        authors=["Jean-Baptiste Alayrac", "Jeff Donahue", "Pauline Luc"],
        abstract="We introduce Flamingo.",
        published="2022-04-29",
        categories=["cs.CV", "cs.AI"],
    )
    entry = parse_one(bibtex(paper))
    assert entry["type"] == "misc" and entry["key"] == "alayrac2022flamingo"
    assert entry["eprint"] == "2204.14198" and entry["archivePrefix"] == "arXiv" and entry["primaryClass"] == "cs.CV"
    assert entry["author"] == "Jean-Baptiste Alayrac and Jeff Donahue and Pauline Luc"
    assert entry["year"] == "2022" and entry["url"] == "https://arxiv.org/abs/2204.14198"
    assert plain_reference(paper).startswith('Jean-Baptiste Alayrac, Jeff Donahue, Pauline Luc. "Flamingo:')


def test_latex_titles_doi_journal_and_odd_braces_stay_valid():
    math = Paper(
        id="math/0101001",
        title="Hardy spaces $H^{p,q}(R^n)$ and {\\O}bro's lemma",
        authors=["Mikkel {\\O}bro"],
        abstract="x",
        doi="10.1000/xyz123",
        journal_ref="J. Phys. A: Math. Gen. 34 (2001) 1",
    )
    entry = parse_one(bibtex(math))
    assert entry["title"] == "Hardy spaces $H^{p,q}(R^n)$ and {\\O}bro's lemma"  # kept exactly
    assert entry["doi"] == "10.1000/xyz123" and entry["note"].startswith("J. Phys. A")
    assert "doi:10.1000/xyz123" in plain_reference(math)
    odd = Paper(id="2401.00001", title="An unbalanced } brace { and }}", abstract="x")
    assert parse_one(bibtex(odd))["title"].count("\\}") == 3
