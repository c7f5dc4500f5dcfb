import sqlite3
from pathlib import Path

from corpus.home import open_store
from corpus.models import Paper
from corpus.store import Store
from corpus.store.reading import PaperBrief


def paper(pid: str, version: int | None = None, abstract: str = "An abstract about transformers.") -> Paper:
    return Paper(id=pid, version=version, title=f"Paper {pid}", abstract=abstract)


def test_first_open_loads_the_bundled_corpus_once(home):
    with open_store(home) as store:
        assert len(store) == 13
        first_seq = store.sequence
    with open_store(home) as store:
        assert len(store) == 13 and store.sequence == first_seq


def test_ingest_is_idempotent_and_newer_versions_replace(tmp_path):
    with Store(tmp_path / "p.sqlite3") as store:
        assert store.ingest([paper("2101.00001", 1), paper("2101.00002")]).model_dump() == {
            "added": 2,
            "updated": 0,
            "unchanged": 0,
            "rejected": 0,
        }
        seq = store.sequence
        assert store.ingest([paper("2101.00001", 1), paper("2101.00002")]).model_dump() == {
            "added": 0,
            "updated": 0,
            "unchanged": 2,
            "rejected": 0,
        }
        assert store.sequence == seq
        report = store.ingest([paper("2101.00001", 2, "A revised abstract.")])
        assert report.updated == 1 and store.get("2101.00001").abstract == "A revised abstract."
        # an older version arriving late does not replace the newer one
        assert store.ingest([paper("2101.00001", 1)]).unchanged == 1
        assert store.get("2101.00001").version == 2
        assert [row[0] for _, row in store.index_rows(after_seq=seq)] == ["2101.00001"]


def test_a_failed_transaction_leaves_the_store_as_it_was(tmp_path):
    path = tmp_path / "p.sqlite3"
    with Store(path) as store:
        store.ingest([paper("2101.00001")])

        def broken():
            yield paper("2101.00002")
            raise RuntimeError("disk pulled out mid-file")

        try:
            store.ingest(broken())
        except RuntimeError:
            pass
        assert store.get("2101.00002") is None and len(store) == 1
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 1


def test_stats(tmp_path):
    with Store(tmp_path / "p.sqlite3") as store:
        store.ingest(
            [
                Paper(id="2101.00001", abstract="x.", published="2021-01-01", source="a.jsonl"),
                Paper(id="2202.00001", abstract="y.", published="2022-02-01", source="a.jsonl"),
            ]
        )
        stats = store.stats()
        assert (stats.papers, str(stats.earliest), str(stats.latest), stats.sources) == (
            2,
            "2021-01-01",
            "2022-02-01",
            {"a.jsonl": 2},
        )


def test_briefs_give_what_the_whole_records_give(tmp_path):
    """`Store.briefs` (what a search shows, read by SQLite's JSON functions) equals the fields of `get_many`,
    on real arXiv API feed records (many authors, dates, links) and one record with an id of its own (no link)."""
    from corpus.loaders import load_path

    real = Path(__file__).parents[1] / "data" / "real"
    papers = [
        p
        for name in ("api_new_format_cs.CL_2026-09-24.atom", "api_msc_classes_lmm_2024-05-01.atom")
        for p in load_path(real / name)
    ]
    papers += [Paper(id="own-7", title="  Spaced   title ", authors=["A  B", " "], abstract="Text.")]
    with Store(tmp_path / "p.sqlite3") as store:
        store.ingest(papers)
        ids = [p.id for p in papers] + ["not-stored"]
        whole, briefs = store.get_many(ids), store.briefs(ids)
    assert len(whole) == len(papers) > 10 and set(briefs) == set(whole)
    for paper_id, paper in whole.items():
        assert briefs[paper_id] == PaperBrief.of(paper), paper_id
    assert any(b.published for b in briefs.values()) and any(b.url for b in briefs.values())
