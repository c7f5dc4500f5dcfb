"""Answer or abstain: off-topic questions get "nothing found", answerable ones an answer, on any corpus size."""

import json
import subprocess
import sys

import numpy as np
import pytest

from corpus.home import open_store
from retrieval.analyzer import Analyzer
from retrieval.answer import answer_question, render_answer_text
from retrieval.answerability import MODEL_PATH, informativeness, model, question_weights
from retrieval.benchmarks import AnswerabilityCorpora, eval_answerability, nq_questions
from retrieval.index import open_index
from tests.conftest import DATA, need


@pytest.fixture
def bundled(home):
    store = open_store(home)
    yield open_index(home, store), store
    store.close()


def test_contractions_and_plural_acronyms_analyse_as_intended():
    analyzer = Analyzer()
    assert analyzer("Aren't CNNs better than RNNs?") == ["cnn", "better", "rnn"]
    assert analyzer("it doesn't, and the model's LSTMs can't") == ["model", "lstm"]
    assert analyzer("CNN") == analyzer("CNNs") and analyzer("LLMs") == analyzer("LLM")


def test_informativeness_is_judged_against_general_english():
    assert informativeness("the") < informativeness("football") < informativeness("transformer")
    assert informativeness("tarkin") > 6 and informativeness("zzyzxq") == 8.0  # words English hardly uses
    weights = question_weights("who played grand moff tarkin in rogue one", Analyzer())
    assert max(weights, key=weights.get) in {"tarkin", "moff"}


def test_numpy_trees_reproduce_lightgbm():
    data = json.loads(MODEL_PATH.read_text())
    mine = [model().probability(np.array(row)) for row in data["check"]["features"]]
    np.testing.assert_allclose(mine, data["check"]["probability"], atol=1e-9)
    assert 0 < model().related_threshold <= model().threshold < 1


def test_general_knowledge_questions_abstain_on_the_bundled_corpus(bundled):
    index, store = bundled
    questions = [q for _, q in nq_questions(need(DATA / "nq_open").parent, "holdout")[:40]]
    questions.append("who won the football world cup in 2018?")
    answered = [q for q in questions if answer_question(q, index, store).found]
    assert answered == []
    football = answer_question("who won the football world cup in 2018?", index, store)
    assert football.closest == [] and "found nothing" in render_answer_text(football)


def test_seed_questions_are_answered_from_the_right_paper(bundled):
    index, store = bundled
    for question, paper in [
        ("how do you train transformers without normalisation?", "2302.10322"),
        ("How long a context can Gemini 1.5 handle?", "2403.05530"),
        ("precipitation nowcasting with generative models", "2104.00954"),
        ("can convnets match vision transformers?", "2310.16764"),
        ("what is Flamingo?", "2204.14198"),
        ("tell me about Perceiver IO", "2107.14795"),
    ]:
        answer = answer_question(question, index, store)
        assert answer.found and answer.citations[0].paper_id == paper, question


def test_a_related_but_unanswered_question_offers_the_closest_papers(bundled):
    index, store = bundled
    answer = answer_question("weather forecasting with deep learning for agriculture", index, store)
    assert not answer.found and answer.answer == [] and answer.citations == []
    assert answer.closest and answer.closest[0].paper_id == "2104.00954"  # precipitation nowcasting
    assert "closest papers" in render_answer_text(answer)


def test_abstention_json_shape(home):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "ask",
            "who won the football world cup in 2018?",
            "--json",
            "--home",
            str(home),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["found"] is False and out["answer"] == [] and out["citations"] == [] and out["closest"] == []
    assert 0 <= out["confidence"] < model().threshold


def test_gold_tldrs_are_answered_and_cite_their_paper():
    from retrieval.benchmarks import scitldr_questions

    corpora = AnswerabilityCorpora(need(DATA / "scitldr").parent)
    tldrs = scitldr_questions(DATA, "test")[:30]
    first = [answer_for(corpora, tldr) for _, tldr in tldrs]
    assert sum(f is not None for f in first) >= 24
    searched = sum(corpora.ranked("scitldr", tldr)[0][0][0].id == pid for pid, tldr in tldrs)
    cited = sum(f == pid for f, (pid, _) in zip(first, tldrs, strict=True))
    assert cited >= searched - 3  # the answer keeps (nearly) every paper search ranked first


def answer_for(corpora: AnswerabilityCorpora, question: str) -> str | None:
    from retrieval.answer import AnswerOptions, decide

    ranked, index = corpora.ranked("scitldr", question)
    chosen = decide(question, ranked, index, AnswerOptions()).chosen
    return chosen[0].paper_id if chosen else None


def test_eval_answerability_floors():
    """A floor under the README's figures, on the first 150 questions of each held-out set."""
    report = eval_answerability(need(DATA / "nq_open").parent, limit=150)
    assert report.nq_holdout_bundled.rate <= 0.02 and report.nq_holdout_scitldr.rate <= 0.02
    assert report.nq_holdout_scifact.rate <= 0.04
    assert report.scifact_dev_on_scitldr.rate <= 0.05
    assert report.scitldr_test_answered.rate >= 0.85


def test_the_kind_of_answer_asked_for_is_preferred(tmp_path):
    from corpus.models import Paper
    from corpus.store import Store
    from retrieval.answer import AnswerOptions
    from retrieval.answer_type import wanted_kind
    from retrieval.index import SearchIndex

    assert wanted_kind("How many GPUs does training take?") == "quantity"
    assert wanted_kind("what is dropout?") == "definition"
    assert wanted_kind("how do you regularise deep networks?") == "method"
    assert wanted_kind("Dropout reduces overfitting.") is None
    sentences = [
        "Training the dropout network needs many GPUs and a long time.",
        "Training the dropout network needs 512 GPUs for three days.",
    ]
    papers = [Paper(id="d1", title="Dropout networks", abstract=" ".join(sentences), sentences=sentences)]
    papers += [Paper(id=f"o{i}", title=f"Topic {i}", abstract=f"Graph topic {i} passes messages.") for i in range(5)]
    with Store(tmp_path / "s.sqlite3") as store:
        store.ingest(papers)
        index = SearchIndex.build(store.papers())
        question = "How many GPUs does training the dropout network need?"
        with_kind = answer_question(question, index, store, AnswerOptions(max_sentences=1))
        without = answer_question(question, index, store, AnswerOptions(max_sentences=1, kind_bonus=0))
        assert with_kind.found and with_kind.answer[0].text == sentences[1]
        assert without.answer[0].text == sentences[0]  # the bonus is what chose the number
