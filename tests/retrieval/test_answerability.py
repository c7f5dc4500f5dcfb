"""Answer or abstain: off-topic questions get "nothing found", answerable ones an answer, on any corpus size."""

import json
import subprocess
import sys

import numpy as np
import pytest

from corpus.home import open_store
from retrieval.answers.answer import answer_question, render_answer_text
from retrieval.answers.answerability import (
    FEATURES,
    MODEL_PATH,
    SEMANTIC_FEATURES,
    SEMANTIC_MODEL_PATH,
    informativeness,
    model,
    question_weights,
)
from retrieval.lexical.analyzer import Analyzer
from retrieval.lexical.sync import open_index
from retrieval.quality.benchmarks import AnswerabilityCorpora, eval_answerability, nq_questions
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


@pytest.mark.parametrize("semantic", [False, True])
def test_numpy_trees_reproduce_lightgbm(semantic):
    data = json.loads((SEMANTIC_MODEL_PATH if semantic else MODEL_PATH).read_text())
    mine = [model(semantic).probability(np.array(row)) for row in data["check"]["features"]]
    np.testing.assert_allclose(mine, data["check"]["probability"], atol=1e-9)
    assert 0 < model(semantic).related_threshold <= model(semantic).threshold < 1
    assert len(data["check"]["features"][0]) == len(FEATURES) + (len(SEMANTIC_FEATURES) if semantic else 0)


def test_the_answer_opens_with_the_lead_papers_best_sentence_even_when_another_scores_higher():
    from retrieval.answers.sentences import AnswerOptions, Candidate, select_mmr

    def candidate(paper: str, text: str, relevance: float) -> Candidate:
        terms = frozenset(text.lower().split())
        return Candidate(
            paper_id=paper, position=0, text=text, terms=terms, relevance=relevance, coverage=1, probability=0.9
        )

    pool = [candidate("other", "Other paper sentence.", 3.0), candidate("lead", "Lead paper sentence.", 2.5)]
    assert [c.paper_id for c in select_mmr(pool, AnswerOptions())] == ["other", "lead"]
    assert [c.paper_id for c in select_mmr(pool, AnswerOptions(), lead_paper="lead")] == ["lead", "other"]


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
    answer = answer_question("crop yield prediction from weather data", index, store)
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
    from retrieval.quality.benchmarks import scitldr_questions

    corpora = AnswerabilityCorpora(need(DATA / "scitldr").parent)
    tldrs = scitldr_questions(DATA, "test")[:30]
    first = [answer_for(corpora, tldr) for _, tldr in tldrs]
    assert sum(f is not None for f in first) >= 24
    top = [corpora.ranked("scitldr", tldr)[0][0][0].id for _, tldr in tldrs]
    assert all(f is None or f == t for f, t in zip(first, top, strict=True))  # an answer opens with search's first
    searched = sum(t == pid for t, (pid, _) in zip(top, tldrs, strict=True))
    cited = sum(f == pid for f, (pid, _) in zip(first, tldrs, strict=True))
    assert cited >= searched - 3  # the answer keeps (nearly) every paper search ranked first


def answer_for(corpora: AnswerabilityCorpora, question: str) -> str | None:
    from retrieval.answers.answer import decide
    from retrieval.answers.sentences import AnswerOptions

    ranked, index, view = corpora.ranked("scitldr", question)
    chosen = decide(question, ranked, index, AnswerOptions(), view=view).chosen
    return chosen[0].paper_id if chosen else None


def test_eval_answerability_floors():
    """A floor under the figures in docs/quality.md, on the first 150 questions of each held-out set."""
    report = eval_answerability(need(DATA / "nq_open").parent, limit=150)
    assert report.nq_holdout_bundled.rate <= 0.02 and report.nq_holdout_scitldr.rate <= 0.02
    assert report.nq_holdout_scifact.rate <= 0.04
    assert report.scifact_dev_on_scitldr.rate <= 0.05
    assert report.scitldr_test_answered.rate >= 0.85


def test_the_kind_of_answer_asked_for_is_preferred(tmp_path):
    from corpus.models import Paper
    from corpus.store import Store
    from retrieval.answers.question import question_form
    from retrieval.answers.sentences import AnswerOptions
    from retrieval.lexical.index import SearchIndex

    assert question_form("How many GPUs does training take?") == "number"
    assert question_form("what is dropout?") == "what-is"
    assert question_form("how do you regularise deep networks?") == "how"
    assert question_form("Dropout reduces overfitting.") is None
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
        answer = answer_question(question, index, store, AnswerOptions(max_sentences=1))
        assert answer.found and answer.answer[0].text == sentences[1]  # the sentence with the figure


# ---------------------------------------------------------------------------- with the semantic stage


@pytest.fixture(scope="module")
def encoded_bundled(tmp_path_factory):
    """A bundled home, its index, and the semantic stage with all 13 papers encoded (a second of encoding)."""
    from retrieval.semantic.encoder import ModelUnavailable, load_encoder
    from retrieval.semantic.stage import SemanticStage
    from retrieval.semantic.vectors import VectorBuilder, VectorStore

    try:
        encoder = load_encoder("")
    except ModelUnavailable:
        pytest.skip("the [semantic] extra is not installed")
    home = tmp_path_factory.mktemp("semantic") / "home"
    store = open_store(home)
    index = open_index(home, store)
    vectors = VectorStore.for_model(home, encoder.model_id)
    VectorBuilder(vectors, encoder, lambda: [(p.id, p.title, p.abstract) for p in store.papers()]).build_once()
    yield index, store, SemanticStage(encoder, vectors)
    store.close()


def test_with_the_stage_seed_questions_cite_the_right_paper_and_off_topic_ones_abstain(encoded_bundled):
    index, store, stage = encoded_bundled
    for question, paper in [
        ("how do you train transformers without normalisation?", "2302.10322"),
        ("How long a context can Gemini 1.5 handle?", "2403.05530"),
        ("precipitation nowcasting with generative models", "2104.00954"),
        ("what is Flamingo?", "2204.14198"),
    ]:
        answer = answer_question(question, index, store, stage=stage)
        assert answer.found and answer.citations[0].paper_id == paper, question
        assert answer.confidence >= model(True).threshold
    questions = [q for _, q in nq_questions(need(DATA / "nq_open").parent, "holdout")[:40]]
    answered = [
        q
        for q in questions + ["who won the football world cup in 2018?"]
        if answer_question(q, index, store, stage=stage).found
    ]
    assert answered == []


def test_until_papers_are_encoded_the_stage_answers_as_bm25_does(encoded_bundled, tmp_path):
    from retrieval.semantic.stage import SemanticStage
    from retrieval.semantic.vectors import VectorStore

    index, store, stage = encoded_bundled
    empty = SemanticStage(stage.encoder, VectorStore(tmp_path / "no-vectors"))
    for question in ("how do you train transformers without normalisation?", "who won the world cup?"):
        assert answer_question(question, index, store, stage=empty) == answer_question(question, index, store)
