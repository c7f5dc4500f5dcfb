"""An acronym and its expansion, learnt from the corpus itself, find each other's papers."""

from __future__ import annotations

from corpus.models import Paper
from retrieval.lexical.index import SearchIndex

PAPERS = [
    Paper(id="2501.00001", title="Message passing", abstract="We study graph neural networks (GNNs) for molecules."),
    Paper(id="2501.00002", title="Scaling GNN training", abstract="A GNN is trained on a billion edges."),
    Paper(id="2501.00003", title="Graph neural network pooling", abstract="Pooling in a graph neural network."),
    Paper(id="2501.00004", title="Social networks", abstract="Friends form a graph of a social network."),
    Paper(id="2501.00005", title="Bird song", abstract="Zebra finches sing. The GDP of finches is small."),
]


def test_the_pair_is_learnt_from_a_definition_in_the_corpus():
    index = SearchIndex.build(PAPERS)
    index.analyzed("warm up")
    gnn = index.vocab[index.analyzer("GNN")[0]]
    assert [index.terms[t] for t in index._acronyms.expansion(gnn)] == index.analyzer("graph neural network")
    assert index._acronyms.expansion(index.vocab[index.analyzer("GDP")[0]]) is None  # never spelled out


def test_each_form_finds_the_paper_that_only_writes_the_other():
    index = SearchIndex.build(PAPERS)
    by_acronym = [h.paper_id for h in index.search("GNN", 5)]
    by_expansion = [h.paper_id for h in index.search("graph neural networks", 5)]
    assert "2501.00003" in by_acronym  # writes only "graph neural network"
    assert "2501.00002" in by_expansion  # writes only "GNN"
    assert set(by_acronym[:2]) == {"2501.00001", "2501.00002"}  # the papers that write "GNN" still lead
    assert "2501.00005" not in by_acronym + by_expansion


def test_the_typed_form_still_leads_and_the_query_terms_are_left_as_typed():
    index = SearchIndex.build(PAPERS)
    query = index.analyzed("GNN")
    assert query.terms == index.analyzer("GNN")
    weights = {index.terms[t]: w for t, w in query.ids.items()}
    assert weights[index.analyzer("GNN")[0]] == 1 and 0 < weights[index.analyzer("graph")[0]] < 1
    plain = index.analyzed("zebra finches")
    assert all(w == 1 for w in plain.ids.values())  # no acronym, nothing added
