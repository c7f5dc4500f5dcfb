"""The four replies to a question — an answer, nothing found, the third reply, the collection reply — in the text
form and in JSON, on the bundled papers through the real CLI and a real home."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from retrieval.answers.question import about_collection, asked_phrase, collection_topic, question_form

CASES = {
    # the README's own example: answered from the paper that introduces the Perceiver, with its defining sentence
    "answer": "what is the perceiver architecture?",
    "nothing": "who played grand moff tarkin in rogue one",
    # Perceiver IO is found, but its abstract gives no batch size
    "unstated": "what batch size did Perceiver IO use?",
    "collection": "how many papers in this collection are about transformers?",
}


@pytest.fixture(scope="module")
def replies(tmp_path_factory) -> dict[str, tuple[dict, str]]:
    home = tmp_path_factory.mktemp("home")
    out = {}
    for kind, question in CASES.items():
        run = [sys.executable, "-m", "bot.cli", "--home", str(home), "ask"]
        as_json = subprocess.run([*run, "--json", question], capture_output=True, text=True, timeout=120)
        as_text = subprocess.run([*run, question], capture_output=True, text=True, timeout=120)
        assert as_json.returncode == 0 and as_text.returncode == 0, (as_json.stderr, as_text.stderr)
        assert "Traceback" not in as_json.stderr + as_text.stderr
        out[kind] = (json.loads(as_json.stdout), as_text.stdout)
    return out


def test_an_answer_quotes_the_paper_that_introduces_what_was_named(replies):
    answer, text = replies["answer"]
    assert answer["reply"] == "answer" and answer["found"]
    assert answer["citations"][0]["paper_id"] == "2103.03206"  # Perceiver, not Perceiver IO
    assert any("we introduce the Perceiver" in s["text"] for s in answer["answer"])
    assert "[1] Perceiver: General Perception with Iterative Attention" in text


def test_nothing_found_quotes_nothing(replies):
    answer, text = replies["nothing"]
    assert answer["reply"] == "nothing" and not answer["found"] and answer["answer"] == []
    assert text.startswith("I found nothing in the corpus")


def test_the_third_reply_cites_the_paper_as_context_and_names_what_is_unstated(replies):
    answer, text = replies["unstated"]
    assert answer["reply"] == "unstated" and not answer["found"]
    assert answer["answer"] == [] and answer["citations"] == []  # no sentence presented as the answer
    assert answer["closest"][0]["paper_id"] == "2107.14795" and answer["unstated"] == "the batch size"
    assert text.startswith(
        "[1] Perceiver IO: A General Architecture for Structured Inputs & Outputs is about this, but its abstract"
        " does not state the batch size."
    )


def test_a_collection_question_gets_no_quote_and_a_search_instead(replies):
    answer, text = replies["collection"]
    assert answer["reply"] == "collection" and not answer["found"] and answer["answer"] == []
    assert answer["topic"] == "transformers" and answer["matches"] >= 1
    assert "question about the whole collection" in text
    assert f"{answer['matches']} papers use every word of 'transformers'; `paperbot search transformers`" in text


@pytest.mark.parametrize(
    ("question", "form", "asked"),
    [
        ("how many layers does multilingual BERT need?", "number", "how many layers"),
        ("what perplexity does AWD-LSTM get on penn treebank?", "number", "the perplexity"),
        ("how much do time embeddings improve AUC on MIMIC-III?", "number", "how much it changes AUC"),
        ("which datasets is IMAE evaluated on?", "which", "which datasets"),
        ("how do you train transformers without normalisation?", "how", "how it is done"),
        ("why does batch norm help?", "why", "the reason"),
        ("does dropout reduce overfitting?", "yes-no", "whether that holds"),
        ("is there a paper on graph attention?", "paper", "such a paper"),
        ("Dropout reduces overfitting in deep networks.", None, "what was asked"),
    ],
)
def test_what_a_question_asks_for(question, form, asked):
    assert question_form(question) == form
    assert asked_phrase(question) == asked


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("how many abstracts mention BERT", "BERT"),
        ("which dataset shows up most often across all these abstracts?", "dataset"),
        ("what fraction of the papers use transformers?", "transformers"),
        ("list every paper here that reports results on CIFAR-10", None),
    ],
)
def test_collection_questions_are_recognised(question, topic):
    assert about_collection(question)
    if topic:
        assert collection_topic(question) == topic


@pytest.mark.parametrize(
    "text",
    [
        "which paper introduced the perceiver?",
        "how many parameters does Gemini 1.5 have?",
        "We show that the most common failure of GANs is mode collapse.",  # a statement, like a TLDR
        "what is the average reward of the agent on Atari?",
    ],
)
def test_questions_about_one_paper_are_not_collection_questions(text):
    assert not about_collection(text)


def _states(question: str, sentences: list[str]) -> bool:
    from retrieval.answers import pinpoint
    from retrieval.lexical.analyzer import Analyzer

    analyzer = Analyzer()
    form = question_form(question)
    asked = pinpoint.asked_terms(question, form, analyzer)
    return pinpoint.states_asked(question, form, sentences, [analyzer(s) for s in sentences], asked)


def test_an_enumeration_mark_or_a_number_word_is_not_the_accuracy_asked_for():
    question = "what face verification accuracy do siamese capsule networks get on LFW?"
    abstract = [
        "They are yet to be tested on tasks where (1) the entities are complex and (2) there are few instances.",
        "Hence, this paper carries out experiments on face verification in two settings.",
        "Siamese Capsule Networks perform well against strong baselines.",
    ]
    assert not _states(question, abstract)
    assert _states(question, abstract + ["On LFW the face verification accuracy is 92.4%."])


def test_a_count_may_be_written_in_words_when_the_question_asks_how_many():
    abstract = ["We find that three layers of attention suffice for the task.", "The model is simple."]
    assert _states("how many attention layers does the model need?", abstract)
    assert not _states("what accuracy does the attention model reach?", abstract)


def test_how_much_it_improves_is_the_headline_gain_wherever_the_abstract_states_it():
    question = "how much do neural stethoscopes improve block-tower stability prediction?"
    abstract = [
        "We study the task of visually predicting stability of block towers.",
        "We introduce neural stethoscopes as a framework for analysing deep networks.",
        "Using stethoscopes increases performance from 51% to 90% prediction accuracy.",
    ]
    assert _states(question, abstract)
    assert not _states(question, abstract[:2] + ["Using stethoscopes increases performance markedly."])


def test_a_dimension_is_not_a_figure_and_the_stating_sentences_are_named():
    from retrieval.answers import pinpoint
    from retrieval.lexical.analyzer import Analyzer

    question = "how much faster is the episodic curiosity method?"
    abstract = ["We test our approach in visually rich 3D environments.", "Our agent outperforms ICM."]
    assert not _states(question, abstract)
    abstract.append("It learns 2x faster than ICM.")
    analyzer = Analyzer()
    form = question_form(question)
    asked = pinpoint.asked_terms(question, form, analyzer)
    terms = [analyzer(s) for s in abstract]
    assert pinpoint.stating(question, form, abstract, terms, asked) == [2]  # the sentence the answer leads with
