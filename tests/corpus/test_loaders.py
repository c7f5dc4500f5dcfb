import json
from pathlib import Path

import pytest

from corpus.home import bundled_papers
from corpus.loaders import LoadError, load_path
from tests.conftest import DATA, FIXTURES, SEEDS, need


def test_bundled_corpus_is_the_13_seed_papers_with_metadata():
    papers = bundled_papers()
    assert len(papers) == 13
    assert len({p.id for p in papers}) == 13
    for paper in papers:
        assert paper.title and paper.published and paper.url == f"https://arxiv.org/abs/{paper.id}"
    gemini = next(p for p in papers if p.id == "2403.05530")
    assert gemini.authors[0] == "Machel Reid"  # from the second file, merged with the first
    assert str(gemini.published) == "2024-03-08"
    comments = {p.id: p.comment for p in papers}
    assert comments["2302.10322"] == "ICLR 2023"
    assert comments["2104.00954"] == "46 pages, 17 figures, 2 tables"


def test_shared_seed_folder_loads_the_same():
    papers = load_path(need(SEEDS))
    assert sorted(p.id for p in papers) == sorted(p.id for p in bundled_papers())


def test_seed_file_without_metadata_still_loads():
    papers = load_path(need(SEEDS / "000_a66cf86bf03b87ab.txt"))
    assert len(papers) == 4 and all(p.abstract for p in papers)


def test_scifact_keeps_sentences_exactly():
    path = need(DATA / "scifact" / "corpus.jsonl")
    papers = load_path(path)
    assert len(papers) == 5183
    first = json.loads(path.read_text().splitlines()[0])
    assert papers[0].id == first["doc_id"] and papers[0].sentences == first["sentences"]


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_scitldr_loads_as_it_is(split):
    path = need(DATA / "scitldr" / f"{split}.jsonl")
    papers = load_path(path)
    assert len(papers) == len(path.read_text().splitlines())
    assert all(p.sentences and p.title for p in papers)


def test_arxiv_snapshot_record(tmp_path):
    record = {
        "id": "0704.0001",
        "submitter": "Pavel Nadolsky",
        "authors": "C. Bal\\'azs, E. L. Berger and C.-P. Yuan",
        "title": "Calculation of prompt diphoton production cross sections at Tevatron and\n  LHC energies",
        "comments": "37 pages, 15 figures",
        "categories": "hep-ph",
        "abstract": "  A fully differential calculation in perturbative quantum chromodynamics is\npresented. It works.\n",
        "versions": [
            {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
            {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
        ],
        "update_date": "2008-11-13",
    }
    path = tmp_path / "snapshot.jsonl"
    path.write_text(json.dumps(record) + "\n")
    [paper] = load_path(path)
    assert paper.id == "0704.0001" and paper.version == 2
    assert str(paper.published) == "2007-04-02" and str(paper.updated) == "2008-11-13"
    assert paper.authors == ["C. Balázs", "E. L. Berger", "C.-P. Yuan"]
    assert paper.title.startswith("Calculation of prompt diphoton production cross sections at Tevatron and LHC")
    assert (
        paper.abstract
        == "A fully differential calculation in perturbative quantum chromodynamics is presented. It works."
    )
    assert paper.categories == ["hep-ph"] and paper.comment == "37 pages, 15 figures"


def test_atom_feed():
    papers = load_path(FIXTURES / "arxiv_api.atom")
    assert [p.id for p in papers] == ["2403.05530", "hep-th/9901001"]
    gemini, old = papers
    assert gemini.version == 4 and str(gemini.published) == "2024-03-08"
    assert gemini.title == "Gemini 1.5: Unlocking multimodal understanding across millions of tokens of context"
    assert gemini.categories == ["cs.CL", "cs.AI"]
    assert old.title == "On Strings & Branes in $AdS_5$" and old.comment == "12 pages, 3 figures"
    assert "$AdS_5 \\times S^5$" in old.abstract  # the abstract stays faithful


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


GOOD = json.dumps({"id": "2101.00001", "title": "T", "abstract": "A good abstract."})


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (GOOD + "\n" + GOOD[:25] + "\n", ":2: json: invalid JSON"),
        (GOOD + "\n" + json.dumps({"id": "2101.00002", "title": "T"}) + "\n", ":2: abstract: missing"),
        (json.dumps({"id": "arXiv:banana", "abstract": "x"}) + "\n", ":1: id: "),
        (json.dumps({"title": "no id", "abstract": "x"}) + "\n", ":1: id: missing"),
        (
            GOOD.encode() + b"\n" + '{"id": "2", "abstract": "caf\u00e9"}'.encode("latin-1") + b"\n",
            ":2: encoding: byte 0xe9",
        ),
        ("", ": file: the file is empty"),
        ("[1, 2]\n", ":1: record: expected a JSON object"),
    ],
    ids=["truncated", "missing-abstract", "bad-id", "no-id", "latin-1", "empty", "not-object"],
)
def test_malformed_jsonl_names_file_line_and_field(tmp_path, content, expected):
    path = _write(tmp_path, "bad.jsonl", content)
    with pytest.raises(LoadError) as info:
        load_path(path)
    assert str(path) + expected in str(info.value)


def test_malformed_feed(tmp_path):
    path = _write(tmp_path, "bad.atom", "<?xml version='1.0'?><feed><entry><title>cut")
    with pytest.raises(LoadError, match="xml: malformed feed"):
        load_path(path)


def test_empty_feed_is_no_papers_not_an_error(tmp_path):
    path = _write(
        tmp_path, "empty.atom", '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>x</title></feed>'
    )
    assert load_path(path) == []


def test_seed_record_without_arxiv_line(tmp_path):
    path = _write(tmp_path, "seed.txt", "An abstract.\n\narXiv:2101.00001\nCreated: 2021-01-01\n\nDangling abstract.\n")
    with pytest.raises(LoadError, match=r"seed.txt:6: id: record has no 'arXiv:' line"):
        load_path(path)


def test_missing_file():
    with pytest.raises(LoadError, match="no such file"):
        load_path("/nonexistent/file.jsonl")
