"""Each arXiv format, pinned on real files collected from public projects (tests/data/real/SOURCES.md)."""

from __future__ import annotations

import pytest

from corpus.loaders import LoadError, load_path
from corpus.store import Store
from corpus.text import clean_title, split_sentences
from tests.conftest import FIXTURES

REAL = FIXTURES / "real"


def by_id(name: str) -> dict:
    return {p.id: p for p in load_path(REAL / name)}


def test_snapshot_authors_come_from_authors_parsed_and_affiliations_are_not_authors():
    papers = by_id("snapshot_lines.jsonl")
    assert papers["hep-th/9608091"].authors == ["D. Fioravanti", "A. Mariottini", "E. Quattrini", "F. Ravanini"]
    assert papers["0704.0002"].authors == ["Ileana Streinu", "Louis Theran"]
    assert papers["0704.0002"].categories == ["math.CO", "cs.CG"]
    assert str(papers["0704.0002"].published) == "2007-03-31" and papers["0704.0002"].version == 2


def test_snapshot_title_line_breaks_and_latex_accents():
    [paper] = load_path(REAL / "snapshot_0704.0001.jsonl")
    assert paper.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    assert paper.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]


def test_math_in_titles_is_kept_exactly_and_cleaning_is_idempotent():
    papers = by_id("old_rss_hep-ex_2021-07-08.rdf")
    title = papers["2107.03419"].title
    assert title == "Observation of excited $\\Omega_c^0$ baryons in $\\Omega_b^- \\to \\Xi_c^+ K^-\\pi^-$ decays"
    for raw, clean in [
        ("The Hardy-Lorentz Spaces $H^{p,q}(R^n)$", "The Hardy-Lorentz Spaces $H^{p,q}(R^n)$"),
        ("at $\\sqrt{s_{NN}}=200$ GeV", "at $\\sqrt{s_{NN}}=200$ GeV"),
        ("Sivers $p^{\\uparrow}$ asymmetry", "Sivers $p^{\\uparrow}$ asymmetry"),
        ("Mikkel {\\O}bro and Poincar\\'{e}", "Mikkel Øbro and Poincaré"),
        ("50% of A&B in {\\em vivo}", "50% of A&B in vivo"),
    ]:
        assert clean_title(raw) == clean
        assert clean_title(clean) == clean


def test_a_stored_title_reads_back_unchanged(tmp_path):
    papers = load_path(REAL / "old_rss_hep-ex_2021-07-08.rdf")
    with Store(tmp_path / "s.sqlite3") as store:
        store.ingest(papers)
        assert store.get("2107.03419").title == papers[0].title
        again = store.ingest(load_path(REAL / "old_rss_hep-ex_2021-07-08.rdf"))
        assert again.unchanged == 3 and again.updated == 0


def test_old_rss_suffix_version_categories_replacement_and_cross_list():
    papers = by_id("old_rss_hep-ex_2018-05-23.rdf")
    hybrid = papers["1805.06430"]  # "(arXiv:1805.06430v2 [nucl-th] UPDATED)"
    assert hybrid.title == "New Perspective on Hybrid Mesons"
    assert hybrid.version == 2 and hybrid.categories == ["nucl-th"]
    assert hybrid.published is None and str(hybrid.announced) == "2018-05-24"  # a replacement is not new that day
    assert hybrid.authors[:2] == ["Shu-Sheng Xu", "Zhu-Fang Cui"] and len(hybrid.authors) == 6
    cross = papers["1805.09166"]
    assert cross.title == "Recent Top quark results from the Tevatron" and cross.published is None
    new = papers["1805.08875"]
    assert new.version == 1 and new.categories == ["hep-ex"] and str(new.published) == "2018-05-24"
    assert new.authors == ["Christopher Dilks"]  # "(STAR Collaboration)" is an affiliation
    assert "$2.6<\\eta<4$" in new.abstract and not new.abstract.startswith("<p>")


def test_old_rss_et_al_and_collaborations():
    papers = by_id("old_rss_hep-ex_2021-07-08.rdf")
    assert papers["2107.03419"].authors == ["LHCb collaboration", "R. Aaij"]  # not "et al. (909 ... not shown)"
    assert papers["2106.00550"].categories == ["math.GR"] and papers["2106.00550"].version == 2


def test_new_rss_replace_and_cross_keep_published_for_the_first_version():
    papers = {p.id: p for p in load_path(FIXTURES / "arxiv_cs_LG.rss")}
    assert str(papers["2403.04001"].published) == "2024-03-08"  # new
    for replaced in ("2403.05530", "2403.03002"):  # replace, cross
        assert papers[replaced].published is None and str(papers[replaced].announced) == "2024-03-08"


def test_a_replacement_from_a_listing_keeps_the_stored_first_version_date(tmp_path):
    with Store(tmp_path / "s.sqlite3") as store:
        store.ingest(load_path(FIXTURES / "arxiv_api.atom"))
        store.ingest(load_path(FIXTURES / "arxiv_cs_LG.rss"))
        assert str(store.get("2403.05530").published) == "2024-03-08"


def test_msc_and_acm_codes_are_not_categories(tmp_path):
    text = (FIXTURES / "arxiv_api.atom").read_text()
    text = text.replace(
        '<category term="cs.AI" scheme="http://arxiv.org/schemas/atom"/>',
        '<category term="cs.AI" scheme="http://arxiv.org/schemas/atom"/>\n'
        '    <category term="53D10, 53D15" scheme="http://arxiv.org/schemas/atom"/>\n'
        '    <category term="F.2.2; I.2.7" scheme="http://arxiv.org/schemas/atom"/>',
    )
    path = tmp_path / "api.atom"
    path.write_text(text)
    assert by_path(path)["2403.05530"].categories == ["cs.CL", "cs.AI"]


def by_path(path):
    return {p.id: p for p in load_path(path)}


def test_oai_pmh_arxiv_format_is_read():
    [paper] = load_path(REAL / "oaipmh_arXiv_astro-ph_2013.xml")
    assert paper.id == "0801.3931" and paper.title == "Dynamical study of 2D and 3D barred galaxy models"
    assert paper.authors == ["T. Manos", "E. Athanassoula"] and paper.categories == ["astro-ph"]
    assert str(paper.published) == "2008-01-25"
    assert paper.comment.startswith(
        '8 pages, 3 figures, to appear in the proceedings of the international conference "Chaos'
    )
    assert "Poincar\\'{e} $(y,p_y)$" in paper.abstract  # the abstract stays as written
    two = by_id("oaipmh_arXiv_2018_with_token.xml")
    assert set(two) == {"0704.0999", "0704.1000"} and str(two["0704.1000"].updated) == "2007-06-21"


def test_things_that_are_not_feeds_are_rejected_with_one_clear_line(tmp_path):
    html = tmp_path / "listing.xml"
    html.write_text("<!DOCTYPE html><html><head><title>arXiv</title></head><body>Service unavailable</body></html>")
    with pytest.raises(LoadError, match="HTML page, not an arXiv Atom/RSS feed"):
        load_path(html)
    error = tmp_path / "oai.xml"
    error.write_text(
        '<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        "<responseDate>2024-01-01T00:00:00Z</responseDate>"
        '<error code="noRecordsMatch">No records match</error></OAI-PMH>'
    )
    with pytest.raises(LoadError, match="OAI-PMH error noRecordsMatch: No records match"):
        load_path(error)


def test_sentences_keep_journal_abbreviations_and_enumerations_whole():
    text = (
        "Results appeared in J. Phys. A: Math. Gen. 38 (2005) 1234. We make two contributions: "
        "1. We show X holds. 2. We prove Y. Finally we test it."
    )
    sentences = split_sentences(text)
    assert sentences == [
        "Results appeared in J. Phys. A: Math. Gen. 38 (2005) 1234.",
        "We make two contributions: 1. We show X holds.",
        "2. We prove Y.",
        "Finally we test it.",
    ]
    assert all(s in text for s in sentences)
