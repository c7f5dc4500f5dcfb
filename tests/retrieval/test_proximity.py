"""Among BM25's best few, the paper holding the question's word pairs as pairs comes first."""

from corpus.models import Paper
from corpus.store import Store
from retrieval.answers.answer import answer_question
from retrieval.answers.search import SearchRequest, run_search
from retrieval.lexical import proximity
from retrieval.lexical.index import SearchIndex

# BM25 prefers "scattered" (each word more often); "phrase" says "graph neural network pruning" as pairs.
PAPERS = [
    Paper(
        id="scattered",
        title="Pruning of networks",
        abstract="A neural method prunes networks, and a graph shows the accuracy of the method.",
    ),
    Paper(
        id="phrase",
        title="Graph neural network pruning",
        abstract="Edges of the graph are removed before message passing runs, on citation benchmarks.",
    ),
    *[Paper(id=f"other{i}", title=f"Unrelated {i}", abstract=f"Speech topic {i} and audio.") for i in range(4)],
]
QUESTION = "graph neural network pruning"


def index() -> SearchIndex:
    return SearchIndex.build(PAPERS)


def test_the_paper_with_the_questions_word_pairs_moves_up_among_bm25s_best():
    search = index()
    hits = search.search(QUESTION, 5)
    assert [h.paper_id for h in hits[:2]] == ["scattered", "phrase"]  # BM25 alone
    papers = {p.id: p for p in PAPERS}
    ordered = proximity.by_pairs(QUESTION, hits, papers, search)
    assert [h.paper_id for h in ordered[:2]] == ["phrase", "scattered"]
    assert {h.paper_id: h.score for h in ordered} == {h.paper_id: h.score for h in hits}  # scores stay BM25's


def test_pairs_are_weighed_and_a_question_without_pairs_keeps_bm25s_order():
    search = index()
    pairs = proximity.question_pairs(QUESTION, search)
    assert set(pairs) == {("graph", "neural"), ("neural", "network"), ("network", "prune")}
    assert proximity.pair_share(pairs, ["graph", "neural", "x"]) > 0 and proximity.pair_share(pairs, ["prune"]) == 0
    hits = search.search("pruning", 5)
    assert proximity.by_pairs("pruning", hits, {p.id: p for p in PAPERS}, search) == hits


def test_ask_and_search_rank_alike(tmp_path):
    with Store(tmp_path / "s.sqlite3") as store:
        store.ingest(PAPERS)
        search = SearchIndex.build(store.papers())
        hits = run_search(search, store, SearchRequest(query=QUESTION, k=3))
        assert hits[0].paper_id == "phrase"
        answer = answer_question(QUESTION, search, store)  # its first sentence from the paper BM25 put second
        assert answer.found and answer.citations[0].paper_id == "phrase"
