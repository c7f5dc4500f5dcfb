"""Follow-ups in context, related papers, and votes that become an evaluation set."""

import json

import pytest

from corpus.feedback import Feedback
from corpus.home import open_store
from corpus.loaders import load_path
from corpus.store import Store
from retrieval.answers.answer import answer_question, answer_versions
from retrieval.answers.conversation import Turn, answer_follow_up
from retrieval.lexical.index import SearchIndex
from retrieval.lexical.related import related_papers
from retrieval.lexical.sync import open_index
from retrieval.quality.benchmarks import eval_feedback
from tests.conftest import DATA, FIXTURES, need

PAIRS = [json.loads(line) for line in (FIXTURES / "follow_ups.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def scitldr(tmp_path_factory):
    papers = [p for s in ("train", "dev", "test") for p in load_path(need(DATA / "scitldr") / f"{s}.jsonl")]
    store = Store(tmp_path_factory.mktemp("scitldr") / "papers.sqlite3")
    store.ingest(papers)
    yield SearchIndex.build(papers), store
    store.close()


def test_follow_ups_are_answered_from_the_conversation(scitldr):
    """The figure in docs/answers.md: 30 written pairs; with context the right paper is cited first (target 25 of 30)."""
    index, store = scitldr
    in_context = alone = 0
    for pair in PAIRS:
        first = answer_question(pair["first"], index, store)
        turn = Turn(question=pair["first"], cited=[c.paper_id for c in first.citations])
        reply = answer_follow_up(pair["follow_up"], [turn], index, store)
        in_context += bool(reply.answer.citations) and reply.answer.citations[0].paper_id == pair["paper_id"]
        without = answer_question(pair["follow_up"], index, store)
        alone += bool(without.citations) and without.citations[0].paper_id == pair["paper_id"]
    assert len(PAIRS) == 30 and in_context >= 25 and alone <= 10


def test_a_follow_up_the_context_does_not_answer_falls_back_and_says_so(scitldr):
    index, store = scitldr
    pair = PAIRS[0]
    first = answer_question(pair["first"], index, store)
    turn = Turn(question=pair["first"], cited=[c.paper_id for c in first.citations])
    reply = answer_follow_up("who won the football world cup in 2018?", [turn], index, store)
    assert reply.fell_back and not reply.in_context and not reply.answer.found


def test_related_papers_exclude_the_paper_itself(home):
    store = open_store(home)
    index = open_index(home, store)
    nfnet = store.get("2102.06171")
    hits = related_papers(nfnet, index, 3)
    assert len(hits) == 3 and "2102.06171" not in {h.paper_id for h in hits}
    assert hits[0].paper_id == "2105.13343"  # the other NFNet paper (augmentation multiplicity)
    store.close()


def test_votes_once_per_person_exported_and_scored(home):
    store = open_store(home)
    index = open_index(home, store)
    feedback = Feedback(store)
    good = answer_question("how do you train transformers without normalisation?", index, store)
    versions = answer_versions(index)
    feedback.remember("m1", good.question, good.model_dump(mode="json"), versions)
    assert feedback.vote("m1", "u1", 1) and feedback.vote("m1", "u2", 1)
    assert not feedback.vote("m1", "u1", -1)  # once per person per answer
    assert not feedback.vote("unknown", "u1", 1)
    stale = good.model_dump(mode="json")
    stale["answer"][0]["text"] = "A sentence this build no longer gives."
    feedback.remember("m2", good.question, stale, versions, thread_id="t1")
    assert feedback.vote("m2", "u1", -1)
    assert feedback.answer("m2").cited == [good.citations[0].paper_id]
    assert [a.message_id for a in feedback.thread("t1")] == ["m2"]
    votes = feedback.export()
    assert [v.vote for v in votes.votes] == [1, 1, -1] and "voter" not in votes.votes[0].model_dump()
    assert set(votes.votes[0].versions) >= {"index_seq", "answerability_model", "evidence_model", "paperbot"}
    scores = eval_feedback(votes, index, store)
    assert (scores.thumbs_up, scores.still_given, scores.same_first_paper) == (2, 2, 2)
    assert (scores.thumbs_down, scores.changed) == (1, 1)
    assert feedback.counts() == (2, 1)
    store.close()
