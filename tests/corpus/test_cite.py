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


def rivolli(**fields) -> Paper:
    return Paper(
        id="1808.10406",
        title=fields.pop("title", "Towards Reproducible Empirical Research in Meta-Learning"),
        authors=fields.pop(
            "authors",
            [
                "Adriano Rivolli",
                "Luís P. F. Garcia",
                "Carlos Soares",
                "Joaquin Vanschoren",
                "André C. P. L. F. de Carvalho",
            ],
        ),
        abstract="x",
        published="2018-08-30",
        categories=["cs.LG"],
        **fields,
    )


def test_plain_reference_has_one_full_stop_after_et_al_and_after_a_question():
    text = plain_reference(rivolli())
    assert text.startswith('Adriano Rivolli, Luís P. F. Garcia, Carlos Soares et al. "Towards Reproducible')
    assert ".." not in text
    asked = plain_reference(rivolli(title="Does it work?", authors=["Charles R. Qi, Jr."]))
    assert asked.startswith('Charles R. Qi, Jr. "Does it work?" arXiv:1808.10406')


def test_bibtex_escapes_latex_specials_outside_math_and_parses_back():
    paper = rivolli(title="Bits & Pieces: 100% of #1 in snake_case, with $a_1 \\& b$", journal_ref="Proc. A&B 2019")
    text = bibtex(paper)
    entry = parse_one(text)
    assert entry["title"] == "Bits \\& Pieces: 100\\% of \\#1 in snake\\_case, with $a_1 \\& b$"  # math kept as written
    assert entry["note"] == "Proc. A\\&B 2019"
    assert "https://arxiv.org/abs/1808.10406" == entry["url"]  # a URL is not LaTeX: left alone


def test_bibtex_names_suffixes_and_collaborations_read_right_and_key_uses_the_family_name():
    paper = rivolli(authors=["Charles R. Qi, Jr.", "André C. P. L. F. de Carvalho", "STAR Collaboration"])
    entry = parse_one(bibtex(paper))
    assert entry["author"] == "Qi, Jr., Charles R. and André C. P. L. F. de Carvalho and {STAR Collaboration}"
    assert entry["key"] == "qi2018reproducible"  # not "jr2018reproducible"
    assert parse_one(bibtex(rivolli(authors=["André C. P. L. F. de Carvalho"])))["key"] == "carvalho2018reproducible"
