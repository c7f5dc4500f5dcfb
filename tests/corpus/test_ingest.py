"""Ingest at scale: merging instead of blanking, compressed files, folders, staging, --skip-bad, re-ingest."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import shutil
import zipfile

import pytest

from bot.cli import main
from corpus.formats import records
from corpus.home import bundled_papers, open_store
from corpus.models import Paper, merge
from corpus.store import RecordsRejected, Store
from tests.conftest import FIXTURES, SEEDS, need

REAL = FIXTURES / "real"


def test_merge_fills_and_never_blanks():
    stored = Paper(
        id="2403.05530",
        version=2,
        title="Gemini 1.5",
        abstract="Old text.",
        published="2024-03-08",
        authors=["Machel Reid"],
        comment="a comment",
    )
    bare = Paper(id="2403.05530", version=2, abstract="Old text.", categories=["cs.CL"])
    merged = merge(stored, bare)
    assert (merged.title, str(merged.published), merged.authors, merged.comment) == (
        "Gemini 1.5",
        "2024-03-08",
        ["Machel Reid"],
        "a comment",
    )
    assert merged.categories == ["cs.CL"]  # filled
    newer = Paper(
        id="2403.05530", version=3, title="Gemini 1.5 (v3)", abstract="New text. Two.", published="2024-05-01"
    )
    merged = merge(stored, newer)
    assert (merged.version, merged.title, merged.abstract, merged.sentences) == (
        3,
        "Gemini 1.5 (v3)",
        "New text. Two.",
        ["New text.", "Two."],
    )
    assert str(merged.published) == "2024-03-08"  # the first version's date stays the earliest
    older = Paper(id="2403.05530", version=1, title="Old title", abstract="Older text.", url="https://example.org/x")
    merged = merge(stored, older)
    assert (merged.version, merged.title, merged.abstract) == (2, "Gemini 1.5", "Old text.")


@pytest.mark.parametrize("name", ["000_a66cf86bf03b87ab.txt", "003_92396caf92415d76.txt"])
def test_one_seed_file_alone_neither_wipes_titles_nor_adds_duplicates(home, tmp_path, name):
    seed = need(SEEDS / name)
    lonely = tmp_path / name  # no metadata.jsonl beside it: the bundled metadata still matches
    shutil.copy(seed, lonely)
    with open_store(home) as store:
        before = {p.id: p for p in store.papers()}
        report = store.ingest(records(lonely))
        after = {p.id: p for p in store.papers()}
    assert report.added == 0 and set(after) == set(before)
    for pid, paper in after.items():
        assert paper.title == before[pid].title and paper.published == before[pid].published


def test_bundled_papers_keep_their_authors_when_merged():
    gemini = next(p for p in bundled_papers() if p.id == "2403.05530")
    assert gemini.authors[:2] == ["Machel Reid", "Nikolay Savinov"] and gemini.title.startswith("Gemini 1.5")


def lines(count: int, start: int = 0) -> bytes:
    out = []
    for i in range(start, start + count):
        out.append(
            json.dumps({"id": f"2501.{i:05d}", "title": f"Paper {i}", "abstract": f"Abstract number {i}. It is short."})
        )
    return ("\n".join(out) + "\n").encode()


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.bz2", ".jsonl.xz", ".zip"])
def test_compressed_files_are_read_directly(tmp_path, suffix):
    data = lines(50)
    path = tmp_path / f"dump{suffix}"
    if suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("part1.jsonl", data)
            archive.writestr("notes/readme.md", b"not data")
            archive.writestr("part2.xml", (REAL / "oaipmh_arXiv_astro-ph_2013.xml").read_bytes())
    else:
        opener = {".jsonl": open, ".jsonl.gz": gzip.open, ".jsonl.bz2": bz2.open, ".jsonl.xz": lzma.open}[suffix]
        with opener(path, "wb") as out:
            out.write(data)
    with Store(tmp_path / "s.sqlite3") as store:
        report = store.ingest(records(path))
        assert report.added == (51 if suffix == ".zip" else 50)
        assert store.get("2501.00049").title == "Paper 49"


def test_cli_ingests_a_folder_and_skip_bad_lists_the_rejected_lines(capsys, home, tmp_path):
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(REAL / "snapshot_lines.jsonl", folder / "snapshot.jsonl")
    shutil.copy(REAL / "old_rss_hep-ex_2018-05-23.rdf", folder / "sub" / "listing.rdf")
    (folder / "ignored.pdf").write_bytes(b"%PDF")
    assert main(["ingest", str(folder), "--home", str(home), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["added"] == 5 and len(out["files"]) == 2

    bad = tmp_path / "mixed.jsonl"
    bad.write_bytes(lines(3) + b'{"id": "2501.99999", "abstr\n' + json.dumps({"id": "2501.99998"}).encode() + b"\n")
    assert main(["ingest", str(bad), "--home", str(home)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:4: json: invalid JSON" in err and f"{bad}:5: abstract: missing" in err
    with open_store(home) as store:
        assert store.get("2501.00000") is None  # rejected whole: the good lines did not land either
    assert main(["ingest", str(bad), "--skip-bad", "--home", str(home)]) == 0
    captured = capsys.readouterr()
    assert "3 added" in captured.out and "2 bad records skipped" in captured.out
    assert f"{bad}:4: json: invalid JSON" in captured.err and "(skipped)" in captured.err


def test_a_bad_record_late_in_a_big_file_leaves_the_store_as_it_was(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(lines(5000) + b"{not json}\n")
    with Store(tmp_path / "s.sqlite3") as store:
        store.ingest([Paper(id="2501.00001", title="Kept", abstract="The stored one.")])
        seq = store.sequence
        with pytest.raises(RecordsRejected) as info:
            store.ingest(records(path), batch_size=500)  # ten batches staged before the bad line
        assert info.value.problems[0].where == "5001"
        assert len(store) == 1 and store.get("2501.00001").title == "Kept" and store.sequence == seq


def test_reingesting_an_unchanged_file_skips_building_its_records(tmp_path):
    path = REAL / "snapshot_lines.jsonl"
    with Store(tmp_path / "s.sqlite3") as store:
        assert store.ingest(records(path)).added == 2
        built = []
        items = []
        for item in records(path):
            build = item.build
            item.build = lambda build=build: built.append(1) or build()
            items.append(item)
        report = store.ingest(items)
        assert (report.unchanged, report.added, report.updated, built) == (2, 0, 0, [])


def test_empty_and_unknown_inputs_are_errors_not_zero_added(capsys, home, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    folder = tmp_path / "nothing"
    folder.mkdir()
    (folder / "a.pdf").write_bytes(b"%PDF")
    assert main(["ingest", str(empty), str(folder), "--home", str(home)]) == 1
    err = capsys.readouterr().err
    assert "the file is empty" in err and "no supported files in this folder" in err


def test_corpus_describes_sources_in_words(capsys, home):
    assert main(["corpus", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    # in words, then each source by the name --json gives it (text and JSON say the same)
    assert "13  bundled with paperbot (seed: 10, 000_a66cf86bf03b87ab.txt: 3)" in out


def test_worker_processes_store_the_same_records_and_find_the_same_problems(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(lines(3000) + lines(10) + b'{"id": "2501.99999"}\n')  # ten ids twice, one bad line
    results = {}
    for workers in (1, 2):
        with Store(tmp_path / f"w{workers}.sqlite3") as store:
            with pytest.raises(RecordsRejected) as info:
                store.ingest(records(path), batch_size=1000, workers=workers)
            assert [(p.where, p.field) for p in info.value.problems] == [("3011", "abstract")]
            report = store.ingest(records(path), batch_size=1000, workers=workers, skip_bad=True)
            results[workers] = (report.added, report.rejected, [p.model_dump() for p in store.papers()])
    assert results[1] == results[2] and results[1][:2] == (3000, 1)
