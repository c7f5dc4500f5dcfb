"""`paperbot cite`, `related`, `feedback export` and `eval feedback` through the CLI."""

import json

import bibtexparser

from bot.cli import main
from corpus.feedback import Feedback
from corpus.home import open_store
from retrieval.answers.answer import answer_question, answer_versions
from retrieval.lexical.sync import open_index


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cite_prints_bibtex_that_parses_and_a_plain_reference(capsys, home):
    code, out, _ = run(capsys, "cite", "2204.14198", "--home", str(home))
    assert code == 0 and bibtexparser.parse_string(out).entries[0]["eprint"] == "2204.14198"
    code, out, _ = run(capsys, "cite", "2204.14198", "--style", "plain", "--home", str(home))
    assert code == 0 and '"Flamingo: a Visual Language Model for Few-Shot Learning."' in out
    code, out, _ = run(capsys, "cite", "2204.14198", "--json", "--home", str(home))
    assert set(json.loads(out)) == {"paper_id", "bibtex", "plain"}
    code, _, err = run(capsys, "cite", "9999.99999", "--home", str(home))
    assert code == 1 and "no paper" in err and "Traceback" not in err


def test_related_lists_other_papers(capsys, home):
    code, out, _ = run(capsys, "related", "2102.06171", "--k", "2", "--json", "--home", str(home))
    data = json.loads(out)
    assert code == 0 and len(data["related"]) == 2
    assert "2102.06171" not in {h["paper_id"] for h in data["related"]}


def test_feedback_export_then_eval(capsys, home, tmp_path):
    store = open_store(home)
    index = open_index(home, store)
    answer = answer_question("how do you train transformers without normalisation?", index, store)
    feedback = Feedback(store)
    feedback.remember("m1", answer.question, answer.model_dump(mode="json"), answer_versions(index))
    feedback.vote("m1", "u1", 1)
    store.close()
    code, out, _ = run(capsys, "feedback", "export", "--json", "--home", str(home))
    assert code == 0 and len(json.loads(out)["votes"]) == 1
    votes = tmp_path / "votes.json"
    votes.write_text(out)
    code, out, _ = run(capsys, "eval", "feedback", str(votes), "--json", "--home", str(home))
    assert code == 0 and json.loads(out)["still_given"] == 1
    code, _, err = run(capsys, "eval", "feedback", "--home", str(home))
    assert code == 2 and "feedback export" in err
    votes.write_text('{"votes": [{"vote": 3}]}')
    code, _, err = run(capsys, "eval", "feedback", str(votes), "--home", str(home))
    assert code == 1 and "votes.0" in err and "Traceback" not in err
