"""Extractive answers: verbatim, cited 1..n, honest when the corpus has nothing."""

import pytest

from corpus.home import open_store
from corpus.loaders import load_path
from corpus.store import Store
from retrieval.answers.answer import answer_question, render_answer_text
from retrieval.answers.sentences import AnswerOptions
from retrieval.lexical.index import SearchIndex
from retrieval.lexical.sync import open_index
from tests.conftest import DATA, need


@pytest.fixture
def bundled(home):
    store = open_store(home)
    yield open_index(home, store), store
    store.close()


def check_answer(answer, store) -> None:
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    cited = {c.n: c.paper_id for c in answer.citations}
    first_use = []
    for sentence in answer.answer:
        paper = store.get(cited[sentence.citation])
        assert sentence.text in paper.abstract and sentence.text in paper.sentences
        if sentence.citation not in first_use:
            first_use.append(sentence.citation)
    assert first_use == numbers  # numbered by first use, every citation used


def test_a_question_the_corpus_answers(bundled):
    index, store = bundled
    answer = answer_question("how do you train transformers without normalisation?", index, store)
    assert answer.found and 1 <= len(answer.answer) <= 3
    assert answer.citations[0].paper_id == "2302.10322"
    assert sum(len(s.text) for s in answer.answer) <= 600 or len(answer.answer) == 1
    check_answer(answer, store)
    text = render_answer_text(answer)
    assert "[1]" in text and "https://arxiv.org/abs/2302.10322" in text


@pytest.mark.parametrize("question", ["What is the recipe for banana bread?", "", "!!!", "the and of"])
def test_no_answer_is_said_plainly(bundled, question):
    index, store = bundled
    answer = answer_question(question, index, store)
    assert not answer.found and answer.answer == [] and answer.citations == []
    assert "found nothing" in render_answer_text(answer)


def test_budgets_are_respected(bundled):
    index, store = bundled
    answer = answer_question("Does Flamingo use few-shot learning?", index, store, AnswerOptions(max_sentences=1))
    assert len(answer.answer) == 1


def test_every_answer_over_scifact_dev_is_verbatim_and_cited(tmp_path):
    import json

    corpus = load_path(need(DATA / "scifact" / "corpus.jsonl"))
    claims = [json.loads(line)["claim"] for line in (DATA / "scifact" / "claims_dev.jsonl").read_text().splitlines()]
    with Store(tmp_path / "s.sqlite3") as store:
        store.ingest(corpus)
        index = SearchIndex.build(corpus)
        found = 0
        for claim in claims:
            answer = answer_question(claim, index, store)
            check_answer(answer, store)
            found += answer.found
        assert found > len(claims) // 2


def test_two_papers_bm25_cannot_separate_get_a_one_sentence_answer(tmp_path):
    from corpus.models import Paper

    sentences = [
        "Dropout regularises deep networks against overfitting.",
        "We find dropout reduces overfitting in deep networks by a wide margin.",
        "Dropout also helps deep networks generalise to new data.",
    ]
    twins = [
        Paper(id=f"x{i}", title=f"Dropout study {i}", abstract=" ".join(sentences), sentences=sentences) for i in (1, 2)
    ]
    others = [Paper(id=f"y{i}", title=f"Topic {i}", abstract=f"Graph topic {i} passes messages.") for i in range(6)]
    with Store(tmp_path / "s.sqlite3") as store:
        store.ingest([*twins, *others])
        index = SearchIndex.build(store.papers())
        # a statement (a claim): a question quotes only its first paper, so the rule is for statements
        question = "dropout reduces overfitting in deep networks"
        top = index.search(question, 2)
        assert {h.paper_id for h in top} == {"x1", "x2"}
        assert (top[0].score - top[1].score) / top[0].score < AnswerOptions().min_lead
        unsure = answer_question(question, index, store)
        assert unsure.found and len(unsure.answer) == 1
        check_answer(unsure, store)
        sure = answer_question(question, index, store, AnswerOptions(min_lead=0))
        assert len(sure.answer) > 1
        check_answer(sure, store)
