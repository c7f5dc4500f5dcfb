"""The `paperbot` command line, run in-process on a fresh home."""

import json
import subprocess
import sys

import pytest

from bot.cli import main
from tests.conftest import DATA, need


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_corpus_on_a_fresh_home_is_the_bundled_corpus(capsys, home):
    data = run_json(capsys, "corpus", "--home", str(home))
    assert data["papers"] == 13
    assert (data["earliest"], data["latest"]) == ("2019-02-01", "2024-03-08")


def test_paper_json(capsys, home):
    data = run_json(capsys, "paper", "2403.05530", "--home", str(home))
    assert data["paper"]["id"] == "2403.05530"
    assert data["paper"]["title"].startswith("Gemini 1.5")
    assert data["tldr"] in data["paper"]["sentences"]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["paper", "9999.99999"], 1, "no paper '9999.99999'"),
        (["paper", "arXiv:nonsense"], 1, "is not an arXiv id"),
        (["search", "   "], 2, "the query is empty"),
        (["ask", "?!"], 2, "the question is empty"),
        (["ingest", "/no/such/file.jsonl"], 1, "/no/such/file.jsonl: file: no such file"),
    ],
)
def test_user_mistakes_give_one_line_and_non_zero_exit(capsys, home, argv, code, message):
    got, out, err = run(capsys, *argv, "--home", str(home))
    assert got == code
    assert message in err and "Traceback" not in err


def test_ingest_reports_and_is_idempotent(capsys, home, tmp_path):
    path = tmp_path / "new.jsonl"
    path.write_text(
        json.dumps({"id": "2501.00001v1", "title": "Gradient noise", "abstract": "We study gradient noise."}) + "\n"
    )
    first = run_json(capsys, "ingest", str(path), "--home", str(home))
    assert (first["added"], first["updated"], first["unchanged"], first["rejected"], first["papers"]) == (
        1,
        0,
        0,
        0,
        14,
    )
    again = run_json(capsys, "ingest", str(path), "--home", str(home))
    assert (again["added"], again["unchanged"], again["papers"]) == (0, 1, 14)


def test_a_bad_file_is_rejected_whole_and_others_still_land(capsys, home, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "2501.00002", "abstract": "fine"}) + "\n" + '{"id": "2501.00003", "abstr\n')
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "2501.00004", "abstract": "Also fine."}) + "\n")
    code, out, err = run(capsys, "ingest", str(bad), str(good), "--home", str(home))
    assert code == 1
    assert f"{bad}:2: json: invalid JSON" in err
    data = run_json(capsys, "corpus", "--home", str(home))
    assert data["papers"] == 14  # 13 bundled + the good file; nothing from the bad one
    code, _, err = run(capsys, "paper", "2501.00002", "--home", str(home))
    assert code == 1


def test_search_json_and_filters(capsys, home):
    data = run_json(capsys, "search", "normalization free image recognition", "--home", str(home))
    assert data["hits"][0]["paper_id"] == "2102.06171"
    assert set(data["hits"][0]) == {"paper_id", "score", "title", "url", "published"}
    recent = run_json(capsys, "search", "normalization", "--year-from", "2022", "--home", str(home))
    assert recent["hits"] and all(h["published"] >= "2022" for h in recent["hits"])
    # Nikolay Savinov is an author of both Gemini reports (and of no other bundled paper)
    by_author = run_json(capsys, "search", "gemini long context", "--author", "savinov", "--home", str(home))
    assert {h["paper_id"] for h in by_author["hits"]} == {"2403.05530", "2312.11805"}
    by_fort = run_json(capsys, "search", "augmentation", "--author", "stanislav fort", "--home", str(home))
    assert [h["paper_id"] for h in by_fort["hits"]] == ["2105.13343"]
    reranked = run_json(capsys, "search", "normalization free image recognition", "--rerank", "--home", str(home))
    assert reranked["hits"][0]["paper_id"] == "2102.06171"
    pool = run_json(capsys, "search", "normalization free image recognition", "--k", "50", "--home", str(home))
    assert len(reranked["hits"]) == len(data["hits"])  # its top 10 of BM25's top 50
    assert {h["paper_id"] for h in reranked["hits"]} <= {h["paper_id"] for h in pool["hits"]}


def test_batch_search(capsys, home, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": "a", "text": "perceiver"}\n{"id": "b", "text": ""}\n')
    code, out, _ = run(capsys, "search", "--batch", str(batch), "--k", "2", "--home", str(home))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [line["id"] for line in lines] == ["a", "b"]
    assert len(lines[0]["hits"]) == 2 and lines[1]["hits"] == []


def test_ingest_scifact_under_the_documented_time(capsys, home):
    path = need(DATA / "scifact" / "corpus.jsonl")
    data = run_json(capsys, "ingest", str(path), "--home", str(home))
    assert data["added"] == 5183 and data["papers"] == 5183 + 13


def test_console_script_help():
    result = subprocess.run([sys.executable, "-m", "bot.cli", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "ask" in result.stdout and "ingest" in result.stdout


def test_ask_json_contract_and_batch(capsys, home, tmp_path):
    data = run_json(capsys, "ask", "how do you train transformers without normalisation?", "--home", str(home))
    assert set(data) == {
        "question",
        "found",
        "reply",
        "answer",
        "citations",
        "closest",
        "confidence",
        "read_as",
        "unstated",
        "topic",
        "matches",
    }
    assert data["reply"] == "answer"
    assert data["found"] and data["read_as"] is None  # nothing misspelt
    assert set(data["answer"][0]) == {"text", "citation"}
    assert set(data["citations"][0]) == {"n", "paper_id", "title", "url", "published", "score"}
    batch = tmp_path / "questions.jsonl"
    batch.write_text('{"id": "q1", "text": "perceiver architecture"}\n{"id": "q2", "text": "banana bread recipe"}\n')
    code, out, _ = run(capsys, "ask", "--batch", str(batch), "--home", str(home))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [line["id"] for line in lines] == ["q1", "q2"]
    assert lines[0]["answer"]["found"] and not lines[1]["answer"]["found"]


def test_ask_says_how_a_misspelt_question_was_read(capsys, home):
    data = run_json(capsys, "ask", "how do you train transfomers without normalisaton?", "--home", str(home))
    assert data["found"] and data["citations"][0]["paper_id"] == "2302.10322"
    assert data["question"] == "how do you train transfomers without normalisaton?"
    assert data["read_as"] == "how do you train transformers without normalisation?"
    code, out, _ = run(capsys, "ask", "how do you train transfomers without normalisaton?", "--home", str(home))
    assert code == 0 and out.rstrip().endswith("(Read as: how do you train transformers without normalisation?)")


def test_search_says_how_a_misspelt_query_was_read(capsys, home):
    data = run_json(capsys, "search", "perciever architecture", "--home", str(home))
    assert data["read_as"] == "perceiver architecture" and data["hits"][0]["paper_id"] in {"2103.03206", "2107.14795"}
    assert run_json(capsys, "search", "perceiver architecture", "--home", str(home))["read_as"] is None
    code, out, _ = run(capsys, "search", "perciever architecture", "--home", str(home))
    assert code == 0 and out.startswith("Read as: perceiver architecture\n")


def test_paper_batch_gives_tldrs(capsys, home, tmp_path):
    batch = tmp_path / "ids.jsonl"
    batch.write_text('{"id": "2403.05530"}\n{"id": "9999.99999"}\n')
    code, out, _ = run(capsys, "paper", "--batch", str(batch), "--home", str(home))
    lines = [json.loads(line) for line in out.splitlines()]
    assert (
        code == 0 and lines[0]["tldr"].startswith("In this report") and lines[1] == {"id": "9999.99999", "tldr": None}
    )


def test_digest_for_a_day_lists_gemini(capsys, home):
    data = run_json(capsys, "digest", "--date", "2024-03-08", "--home", str(home))
    assert data["date"] == "2024-03-08"
    assert [p["paper_id"] for p in data["papers"]] == ["2403.05530"]
    assert set(data["papers"][0]) == {"paper_id", "title", "url", "authors", "tldr"}
    code, _, err = run(capsys, "digest", "--date", "08/03/2024", "--home", str(home))
    assert code == 2 and "YYYY-MM-DD" in err


def test_fetch_without_feeds_says_how_to_configure(capsys, home, monkeypatch):
    monkeypatch.delenv("PAPERBOT_FEEDS", raising=False)
    monkeypatch.chdir(home.parent)  # no .env here
    code, _, err = run(capsys, "fetch", "--home", str(home))
    assert code == 2 and "PAPERBOT_FEEDS" in err


def test_eval_prints_both_retrieval_stages_and_the_evidence_figures(capsys):
    need(DATA / "scifact" / "corpus.jsonl")
    data = run_json(capsys, "eval", "retrieval", "--split", "test")
    assert data["queries"] == 300 and data["depth"] == 200
    # floors a little under the figures in docs/quality.md, so a change that loses quality fails here
    assert data["bm25"]["ndcg_at_10"] >= 0.69 and data["bm25"]["recall_at_100"] >= 0.92
    assert data["reranked"]["recall_at_100"] >= 0.92
    code, out, _ = run(capsys, "eval", "evidence", "--split", "dev")
    assert code == 0
    figures = dict(line.split(": ", 1) for line in out.splitlines())
    assert figures["claims"] == "188"
    assert float(figures["given_gold_abstract.f1"]) >= 0.55 and float(figures["end_to_end.f1"]) >= 0.42
