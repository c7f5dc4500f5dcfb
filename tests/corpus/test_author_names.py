"""Author names with accents and hyphens come out whole from every format (#26).

Each input is a real file from tests/data/real/ with its first record's authors replaced by those
of arXiv 1808.10406 written the way that format writes them, entities escaped twice where feeds do
(old RSS listings put `Lu&amp;#xed;s` inside escaped HTML, and the `;` of the entity was taken for a
separator: "Luí, s P. F. Garcia"); the real files' own accented and hyphenated names are checked too.
"""

from __future__ import annotations

import re
from pathlib import Path

from corpus.loaders import load_feed, load_path
from tests.conftest import FIXTURES

REAL = FIXTURES / "real"
RIVOLLI = [
    "Adriano Rivolli",
    "Luís P. F. Garcia",
    "Carlos Soares",
    "Joaquin Vanschoren",
    "André C. P. L. F. de Carvalho",
]
# the same names with the accents as entities, escaped once more (as the feeds' HTML inside XML has them)
ESCAPED = [
    "Adriano Rivolli",
    "Lu&amp;#xed;s P. F. Garcia",
    "Carlos Soares",
    "Joaquin Vanschoren",
    "Andr&amp;#xe9; C. P. L. F. de Carvalho",
]


def first_replaced(path: Path, pattern: str, replacement: str) -> str:
    text = path.read_text(encoding="utf-8")
    changed, count = re.subn(pattern, lambda _: replacement, text, count=1, flags=re.DOTALL)
    assert count == 1, pattern
    return changed


def test_old_rss_listing_double_escaped_accents_are_names_not_pieces():
    links = ", ".join(
        f"&lt;a href=&quot;http://arxiv.org/find/cs/1/au:+X/0/1/0/all/0/1&quot;&gt;{name}&lt;/a&gt;" for name in ESCAPED
    )
    text = first_replaced(
        REAL / "old_rss_hep-ex_2018-05-23.rdf", r"<dc:creator>.*?</dc:creator>", f"<dc:creator>{links}</dc:creator>"
    )
    papers = load_feed(text, "old.rdf")
    assert papers[0].authors == RIVOLLI
    assert ["Shu-Sheng Xu", "Zhu-Fang Cui"] == [a for p in papers for a in p.authors if "-" in a][:2]  # the file's own


def test_rss2_listing_one_creator_with_entities():
    text = first_replaced(
        REAL / "rss2_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24.rss",
        r"<dc:creator>.*?</dc:creator>",
        f"<dc:creator>{', '.join(ESCAPED)}</dc:creator>",
    )
    assert load_feed(text, "new.rss")[0].authors == RIVOLLI


def test_atom_listing_latex_accents_from_the_real_file_and_entities():
    papers = load_path(REAL / "rss_atom_cs.AI_2025-08-20_excerpt.atom")
    names = [a for p in papers for a in p.authors]
    assert {"Nikola Pižurica", "Nikola Milović", "Igor Jovančević", "Paulo André Lima de Castro"} <= set(names)
    text = first_replaced(
        REAL / "rss_atom_cs.AI_2025-08-20_excerpt.atom",
        r"<dc:creator>.*?</dc:creator>",
        f"<dc:creator>{', '.join(ESCAPED)}</dc:creator>",
    )
    assert load_feed(text, "listing.atom")[0].authors == RIVOLLI


def test_api_atom_one_author_element_each():
    authors = "".join(f"<author><name>{name}</name></author>" for name in ESCAPED)
    text = first_replaced(
        REAL / "api_new_format_cs.CL_2026-09-24.atom",
        r"<author>.*?</author>(\s*<author>.*?</author>)*",
        authors,
    )
    assert load_feed(text, "api.atom")[0].authors == RIVOLLI


def test_snapshot_jsonl_latex_accents_hyphenated_initials_and_entities(tmp_path):
    [paper] = load_path(REAL / "snapshot_0704.0001.jsonl")
    assert paper.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]  # parts say "C. -P."
    line = (REAL / "snapshot_lines.jsonl").read_text(encoding="utf-8").splitlines()[0]
    line = re.sub(r',"authors_parsed":\[.*\]\]', "", line)  # the free-text authors alone
    line = re.sub(r'"authors":"[^"]*"', '"authors":"' + ", ".join(n.replace("&amp;", "&") for n in ESCAPED) + '"', line)
    (tmp_path / "one.jsonl").write_text(line + "\n", encoding="utf-8")
    assert load_path(tmp_path / "one.jsonl")[0].authors == RIVOLLI


def test_oaipmh_arxiv_format_author_parts_with_entities(tmp_path):
    parts = [("Rivolli", "Adriano"), ("Garcia", "Lu&amp;#xed;s P. F."), ("Soares", "Carlos")]
    parts += [("Vanschoren", "Joaquin"), ("de Carvalho", "Andr&#xe9; C. P. L. F.")]
    authors = "".join(f"<author><keyname>{k}</keyname><forenames>{f}</forenames></author>" for k, f in parts)
    text = first_replaced(
        REAL / "oaipmh_arXiv_astro-ph_2013.xml", r"<authors>.*?</authors>", f"<authors>{authors}</authors>"
    )
    (tmp_path / "page.xml").write_text(text, encoding="utf-8")
    assert load_path(tmp_path / "page.xml")[0].authors == RIVOLLI


def test_oaipmh_arxivraw_free_text_authors_with_entities(tmp_path):
    text = first_replaced(
        REAL / "oaipmh_arXivRaw_GetRecord_2013.xml",
        r"<authors>.*?</authors>",
        f"<authors>{', '.join(ESCAPED)}</authors>",
    )
    (tmp_path / "raw.xml").write_text(text, encoding="utf-8")
    assert load_path(tmp_path / "raw.xml")[0].authors == RIVOLLI
