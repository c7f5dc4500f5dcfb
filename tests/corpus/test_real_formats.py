"""Each arXiv format, pinned on real files collected from public projects (tests/data/real/SOURCES.md)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from corpus.loaders import LoadError, load_path
from corpus.store import Store
from corpus.text import clean_title, split_sentences
from tests.conftest import FIXTURES

REAL = FIXTURES / "real"
ROOT = Path(__file__).resolve().parents[2]
RSS_2026 = "rss2_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24.rss"


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
    assert paper.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]


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


def test_msc_and_acm_classes_in_real_api_responses_are_not_categories():
    msc = by_id("api_msc_classes_lmm_2024-05-01.atom")["2108.05102"]  # term="35J20, 35B38, 65N12, 65J15, 65Jxx"
    assert msc.categories == ["math.NA", "cs.NA"]
    acm = by_id("api_acm_classes_2023-01-18.atom")["1511.02281"]  # term="I.2.9; J.3"
    assert acm.categories == ["cs.RO", "cs.CY", "cs.HC"]


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


def test_real_api_response_version_dates_wrapped_title_and_comment():
    [paper] = load_path(REAL / "api_id_list_1111.2011v2.atom")
    assert paper.id == "1111.2011" and paper.version == 2  # <id>http://arxiv.org/abs/1111.2011v2</id>
    assert paper.title == "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    assert str(paper.published) == "2011-11-08" and str(paper.updated) == "2012-04-02"  # v1, and the latest
    assert paper.authors == ["James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic"]
    assert paper.categories == ["cond-mat.str-el", "cond-mat.stat-mech"]
    assert paper.comment == "8 pages, 3 figures. Published version"
    assert paper.abstract.startswith("Theoretical description of anisotropic systems, such as layered superconductors")
    assert '"infinite range hopping"' in paper.abstract and "\n" not in paper.abstract


def test_real_api_response_old_ids_affiliations_and_an_odd_title_kept_as_sent():
    papers = by_id("api_msc_classes_lmm_2024-05-01.atom")
    assert list(papers) == [
        "2312.02896",
        "math/0611846",
        "2404.18203",
        "2108.05102",
        "math/0607654",
        "math/0607680",
        "0801.3017",
        "2012.03557",
    ]
    # <arxiv:affiliation>LMM</arxiv:affiliation> inside <author> is not an author
    assert papers["math/0611846"].authors == ["Claire David", "Pierre Sagaut"]
    assert papers["2012.03557"].authors == ["Laurent Denis", "Anis Matoussi", "Jing Zhang"]
    assert len(papers["2404.18203"].authors) == 10 and papers["2404.18203"].authors[-1] == "Guangtao Zhai"
    odd = papers["math/0607680"].title  # the stray quote and "3Solitary" are arXiv's, not ours to mend
    assert odd == 'A Note On 3Solitary Wave Solutions of the Compound Burgers-Korteweg-de Vries Equation"'
    revised = papers["2108.05102"]
    assert revised.version == 2 and (str(revised.published), str(revised.updated)) == ("2021-08-11", "2023-01-19")
    assert revised.comment == "27 pages, 9 figures; Accepted by SCIENCE CHINA Mathematics on January 17, 2023"


def test_sentences_of_a_real_abstract_keep_citations_with_journal_abbreviations_whole():
    abstract = by_id("api_msc_classes_lmm_2024-05-01.atom")["2108.05102"].abstract
    sentences = split_sentences(abstract)
    assert len(sentences) == 9 and all(s in abstract for s in sentences)
    assert sentences[0].startswith("The local minimax method (LMM) proposed in [Y. Li and J. Zhou, SIAM J. Sci.")
    assert sentences[0].endswith("for multiple solutions.")
    assert not any(s.endswith(("J.", "Sci.", "Comput.")) for s in sentences)


def test_an_empty_real_api_response_is_zero_papers_not_an_error():
    assert load_path(REAL / "api_empty_2024-05-04.atom") == []  # a feed with totalResults 0: nothing to lose


def test_real_rss2_listing_new_cross_and_replace():
    papers = by_id(RSS_2026)
    assert list(papers) == ["2609.26811", "2609.26820", "2205.06398", "2009.13987"]
    for new in ("2609.26811", "2609.26820"):
        assert papers[new].version == 1 and str(papers[new].published) == str(papers[new].announced) == "2026-09-24"
    cross, replaced = papers["2205.06398"], papers["2009.13987"]  # a 2022 and a 2020 paper, announced again
    assert cross.published is None and str(cross.announced) == "2026-09-24" and cross.version == 2
    assert cross.categories == ["stat.ME", "stat.AP", "stat.ML"]
    assert replaced.published is None and str(replaced.announced) == "2026-09-24" and replaced.version == 3
    assert replaced.authors == ["Michael Joswig", "Marek Kaluba", "Lukas Ruff"]
    assert papers["2609.26820"].authors == ["Naser Mansour", "Sidahmed Benabderrahmane", "Ameer Rahwan"]
    assert papers["2609.26820"].title == (
        "Signal2Symbol: Neuro-Symbolic Temporal Reasoning for Explainable Physiological Time-Series Anomaly Detection"
    )
    for paper in papers.values():  # "arXiv:2609.26811v1 Announce Type: new \nAbstract: " is not abstract
        assert not paper.abstract.startswith(("arXiv:", "Abstract")) and "Announce Type" not in paper.abstract
    assert papers["2609.26811"].abstract.startswith("Local learning trains each layer with its own auxiliary loss")
    assert "(48.9 +/- 0.5 vs 46.6 +/- 0.3)" in papers["2609.26811"].abstract


def test_real_arxivraw_response_first_version_date_and_authors_joined_by_and():
    [paper] = load_path(REAL / "oaipmh_arXivRaw_GetRecord_2013.xml")
    assert paper.id == "1304.4214" and paper.version == 1
    assert paper.title == "Neutron Scattering and Its Application to Strongly Correlated Systems"
    assert paper.authors == ["Igor A. Zaliznyak", "John M. Tranquada"]  # <authors>... and ...</authors>
    assert paper.categories == ["cond-mat.str-el"]
    assert str(paper.published) == "2013-04-15" and paper.updated is None  # one version: nothing updated
    assert paper.comment == (
        '31 pages, chapter for "Strongly Correlated Systems: Experimental Techniques",'
        " edited by A. Avella and F. Mancini"
    )
    assert paper.abstract.endswith("La(2-x)Ba(x)CuO(4) family of high-temperature superconductors.")


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PAPERBOT_SEMANTIC": "false"}
    argv = [sys.executable, "-m", "bot.cli", *args, "--home", str(home)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180, check=False)


def test_cli_ingests_every_new_real_file_and_the_digest_lists_only_first_versions(tmp_path):
    """`paperbot ingest` on the real files, then `digest` for the RSS day: a 2020 paper replaced that day and a
    2022 paper cross-listed that day are stored, but not as published that day."""
    home = tmp_path / "home"
    names = [
        "api_id_list_1111.2011v2.atom",
        "api_acm_classes_2023-01-18.atom",
        "api_msc_classes_lmm_2024-05-01.atom",
        "api_empty_2024-05-04.atom",
        RSS_2026,
        "oaipmh_arXivRaw_GetRecord_2013.xml",
    ]
    done = _cli(home, "ingest", *(str(REAL / n) for n in names), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [f["added"] for f in out["files"]] == [1, 2, 8, 0, 4, 1] and out["rejected"] == 0
    db = sqlite3.connect(home / "papers.sqlite3")
    stored = dict(db.execute("SELECT id, published FROM papers WHERE id IN ('2009.13987', '1304.4214')").fetchall())
    db.close()
    assert stored == {"2009.13987": None, "1304.4214": "2013-04-15"}
    digest = _cli(home, "digest", "--date", "2026-09-24", "--json")
    assert digest.returncode == 0, digest.stderr
    listed = json.loads(digest.stdout)
    assert listed["published"] == 2
    assert sorted(p["paper_id"] for p in listed["papers"]) == ["2609.26811", "2609.26820"]
    again = _cli(home, "ingest", str(REAL), "--json")  # the whole folder, these six again among them
    report = json.loads(again.stdout)
    rejected = [Path(f["path"]).name for f in report["files"] if f["rejected"]]
    # the two real files that hold no records are refused; the others still land
    assert again.returncode == 1 and rejected == [
        "api_error_incorrect_id_manual.atom",
        "oaipmh_ListIdentifiers_2014.xml",
    ]
    assert report["updated"] == 0  # reading back what was stored changes nothing


def test_cli_rejects_an_oai_error_and_an_html_page_in_one_line_each_and_stores_nothing(tmp_path):
    """No real arXiv OAI-PMH error response or HTML page was found to collect (SOURCES.md): these two are
    written here, to the OAI-PMH 2.0 error syntax and as a plain HTML page, not presented as real files."""
    error = tmp_path / "page2.xml"
    error.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        "<responseDate>2024-01-01T00:00:00Z</responseDate>"
        '<request verb="ListRecords">https://oaipmh.arxiv.org/oai</request>'
        '<error code="badResumptionToken">The value of the resumptionToken argument is invalid or expired.</error>'
        "</OAI-PMH>\n"
    )
    html = tmp_path / "cs.LG.rss"
    html.write_text("<!DOCTYPE html>\n<html><head><title>arXiv</title></head><body>Service Unavailable</body></html>\n")
    home = tmp_path / "home"
    for path, says in [
        (error, "oai-pmh: OAI-PMH error badResumptionToken: The value of the resumptionToken argument is invalid"),
        (html, "file: this is an HTML page, not an arXiv Atom/RSS feed or OAI-PMH response: nothing was read"),
    ]:
        done = _cli(home, "ingest", str(path))
        assert done.returncode == 1 and "Traceback" not in done.stderr
        lines = [line for line in done.stderr.splitlines() if str(path) in line]
        assert len(lines) == 1 and lines[0].startswith(f"{path}: {says}"), done.stderr
        assert f"{path}: rejected (nothing stored: see the line above)" in done.stdout
    db = sqlite3.connect(home / "papers.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 13  # the bundled papers, nothing more
    db.close()


@pytest.mark.parametrize(
    ("name", "paper_id", "doi", "journal_ref"),
    [
        ("snapshot_0704.0001.jsonl", "0704.0001", "10.1103/PhysRevD.76.013009", "Phys.Rev.D76:013009,2007"),
        ("snapshot_lines.jsonl", "hep-th/9608091", "10.1016/S0370-2693(96)01409-8", "Phys.Lett.B390:243-251,1997"),
        ("api_id_list_1111.2011v2.atom", "1111.2011", "10.1103/PhysRevB.85.115117", "Phys. Rev. B 85, 115117 (2012)"),
        (  # the API wraps it over two lines
            "api_acm_classes_2023-01-18.atom",
            "1511.02281",
            "10.1016/B978-0-12-420248-1.00008-8",
            "Artificial Intelligence in Behavioral Health and Mental Health Care (2015) 185-203;",
        ),
        (RSS_2026, "2205.06398", "10.1093/bioinformatics/btac431", None),  # <arxiv:DOI>
        (
            "oaipmh_arXiv_2018_with_token.xml",
            "0704.1000",
            "10.1103/PhysRevLett.99.131803",
            "Phys.Rev.Lett.99:131803,2007",
        ),
        (
            "oaipmh_arXiv_astro-ph_2013.xml",
            "0801.3931",
            "10.1007/978-3-540-75826-6_11",
            "Chaos in Astronomy Astrophysics and Space Science Proceedings 2009, pp 115-122",
        ),
    ],
)
def test_every_real_format_keeps_the_doi_and_journal_reference(name, paper_id, doi, journal_ref):
    """Every format sends them and a citation prints them; no loader kept them before these files showed it."""
    paper = by_id(name)[paper_id]
    assert (paper.doi, paper.journal_ref) == (doi, journal_ref)


def test_cli_cites_a_real_api_record_with_its_doi_and_journal(tmp_path):
    home = tmp_path / "home"
    assert _cli(home, "ingest", str(REAL / "api_id_list_1111.2011v2.atom")).returncode == 0
    cited = _cli(home, "cite", "1111.2011", "--style", "plain")
    assert cited.returncode == 0, cited.stderr
    assert cited.stdout.strip() == (
        'James M. Murray, Adrian Del Maestro, Zlatko Tesanovic. "Quantum Criticality for Extended Nodes on a Bethe'
        ' Lattice in the Large Connectivity Limit." arXiv:1111.2011 [cond-mat.str-el] Phys. Rev. B 85, 115117 (2012)'
        " (2011) doi:10.1103/PhysRevB.85.115117 https://arxiv.org/abs/1111.2011"
    )


def test_the_real_api_error_response_is_rejected_in_one_line_and_nothing_is_stored(tmp_path):
    """arXiv answers a bad query with HTTP 200 and a feed whose one entry is the error: not a paper titled "Error"."""
    path = REAL / "api_error_incorrect_id_manual.atom"
    with pytest.raises(LoadError, match="arXiv API error: incorrect id format for 1234.12345"):
        load_path(path)
    home = tmp_path / "home"
    done = _cli(home, "ingest", str(path), "--json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if str(path) in line]
    assert line == f"{path}: feed: arXiv API error: incorrect id format for 1234.12345"
    assert json.loads(done.stdout)["rejected"] == 1
    db = sqlite3.connect(home / "papers.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM papers WHERE id LIKE '%1234.12345%'").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 13
    db.close()


def test_a_real_2026_api_response_in_the_new_format_is_read_the_same():
    """The API's 2026 answers differ in form (prefixes on the root, `arxiv:primary_category` without a scheme,
    summaries on one line, <published> after the categories): the same fields must come out."""
    papers = by_id("api_new_format_cs.CL_2026-09-24.atom")
    assert list(papers) == ["2609.28471", "2609.28449", "2609.28442"]
    first = papers["2609.28471"]
    assert (first.version, str(first.published), first.authors) == (1, "2026-09-23", ["Peter Kirby"])
    assert first.categories == ["cs.CL", "cs.LG"] and first.doi == "10.1007/978-3-032-39150-6_7"
    assert first.journal_ref.endswith("LNCS 17087, pp. 92-102, Springer (2027)")
    assert papers["2609.28449"].title == "Can LLMs Reason About Runtime Behavior? A Repository-Level Dynamic Benchmark"
    assert papers["2609.28449"].authors[4] == "Tien N. Nguyen" and len(papers["2609.28449"].authors) == 6


@pytest.mark.parametrize(
    ("name", "total"),
    [
        ("api_new_format_cs.CL_2026-09-24.atom", 119894),
        ("api_msc_classes_lmm_2024-05-01.atom", 308),
        ("api_acm_classes_2023-01-18.atom", 2040339),
        ("api_empty_2024-05-04.atom", 0),
    ],
)
def test_api_search_paging_reads_the_total_from_real_responses_old_and_new(name, total):
    from corpus.feeds import _total_results

    assert _total_results((REAL / name).read_text()) == total  # where a `search:` feed stops paging


def test_a_real_atom_listing_with_latex_author_names_math_and_cross_lists():
    """rss.arxiv.org/atom: the listing's Atom form. Names in dc:creator carry LaTeX accents; abstracts carry
    math and escaped `<`; cross-lists are announced that day, not published."""
    papers = by_id("rss_atom_cs.AI_2025-08-20_excerpt.atom")
    assert list(papers) == ["2508.13171", "2508.13176", "2508.13177", "2508.13429", "2508.13434"]
    for new in ("2508.13171", "2508.13176", "2508.13177"):
        assert str(papers[new].published) == str(papers[new].announced) == "2025-08-20"
    for cross in ("2508.13429", "2508.13434"):
        assert papers[cross].published is None and str(papers[cross].announced) == "2025-08-20"
    assert papers["2508.13177"].authors == [
        "Nikola Pižurica",
        "Nikola Milović",
        "Igor Jovančević",
        "Conor Heins",
        "Miguel de Prado",
    ]
    assert papers["2508.13429"].authors == ["Paulo André Lima de Castro"]
    assert papers["2508.13429"].categories == ["q-fin.CP", "cs.AI"]
    logic = papers["2508.13176"].abstract  # math in an abstract stays exactly as written
    assert "the description logics $\\mathcal{E\\mkern-2mu L}$ and $\\mathcal{E\\mkern-2mu LI}$ as well" in logic
    assert "and $1.13\\times$ faster training efficiency." in papers["2508.13434"].abstract
    assert "with p < 0.001 and Cohen's d > 23 across" in papers["2508.13171"].abstract
    assert papers["2508.13171"].title.startswith("Cognitive Workspace: Active Memory Management for LLMs -- An")


def test_a_real_oai_pmh_list_identifiers_response_is_refused_not_read_as_zero_records(tmp_path):
    """Found on a real file: a saved ListIdentifiers page (3 headers, no metadata) used to ingest as
    "0 added" with exit 0, silently losing the three records it names."""
    path = REAL / "oaipmh_ListIdentifiers_2014.xml"
    with pytest.raises(LoadError, match="this is an OAI-PMH ListIdentifiers response, which holds no records"):
        load_path(path)
    done = _cli(tmp_path / "home", "ingest", str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if str(path) in line]
    assert line.startswith(f"{path}: oai-pmh: this is an OAI-PMH ListIdentifiers response") and "harvest" in line
