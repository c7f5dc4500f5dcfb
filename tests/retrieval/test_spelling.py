"""Misspelt question words are corrected against the corpus's vocabulary, and nothing else is."""

import pytest

from corpus.home import open_store
from corpus.models import Paper
from retrieval.answers.answer import answer_question
from retrieval.lexical.analyzer import Analyzer
from retrieval.lexical.index import SearchIndex
from retrieval.lexical.spelling import Speller, edits1
from retrieval.lexical.sync import open_index

ABSTRACTS = {
    "p1": "We study the continual learning problem and a regularization approach to forgetting.",
    "p2": "A negotiation game between agents with a separate channel for cheap talk.",
    "p3": "Depth separation results for ReLU networks with geometric arguments.",
}


@pytest.fixture(scope="module")
def index():
    return SearchIndex.build([Paper(id=k, title=f"Paper {k}", abstract=v) for k, v in ABSTRACTS.items()])


def test_edits1_holds_every_kind_of_single_edit():
    edits = edits1("prolem")
    assert {"problem", "prolems", "prlem", "porlem", "prolam"} <= edits  # insertion, deletion, swap, replacement
    assert "prolem" not in edits and "problems" not in edits  # two edits away


@pytest.mark.parametrize(
    ("asked", "meant"),
    [
        ("the continual learning prolem", "the continual learning problem"),
        ("a variant of the negotation game", "a variant of the negotiation game"),
        ("Depth seperation for ReLU nets", "Depth separation for ReLU nets"),
    ],
)
def test_a_misspelt_word_is_corrected_to_the_corpus_word_one_edit_away(index, asked, meant):
    assert index.respell(asked) == meant
    assert index.search(asked, 1)[0].paper_id == index.search(meant, 1)[0].paper_id


@pytest.mark.parametrize(
    "question",
    [
        "who played grand moff tarkin in rogue one",  # names English knows: left alone
        "resnet50 and node2vec embeddings",  # letters inside a token with digits
        "cheap talk between agents",  # words the corpus holds
        "what is a filibuster",  # an English word the corpus lacks
        "gemoteric arguments",  # two edits from "geometric": not guessed
    ],
)
def test_words_that_are_not_misspellings_of_corpus_words_are_left_alone(index, question):
    assert index.respell(question) == question


def test_only_words_the_corpus_holds_are_suggested():
    empty = SearchIndex.build([Paper(id="x", title="Other", abstract="Graph message passing.")])
    assert empty.respell("the continual learning prolem") == "the continual learning prolem"


def test_corrections_follow_the_vocabulary_as_it_grows():
    known: dict[str, int] = {}
    speller = Speller(Analyzer(), lambda term: known.get(term, 0), lambda: len(known))
    assert speller("a negotation game") == "a negotation game"
    known[Analyzer().term_of("negotiation")] = 3
    assert speller("a negotation game") == "a negotiation game"


def test_a_misspelt_question_is_answered_from_the_right_paper(home):
    store = open_store(home)
    try:
        index = open_index(home, store)
        answer = answer_question("how do you train transfomers without normalisaton?", index, store)
        assert answer.found and answer.citations[0].paper_id == "2302.10322"
        assert answer.question == "how do you train transfomers without normalisaton?"  # shown as asked
    finally:
        store.close()


def test_english_frequencies_are_wordfreqs_own():
    """The speller reads a plain word's Zipf value from wordfreq's table (no tokenizer to set up): the same number."""
    import random
    import string

    from wordfreq import top_n_list, zipf_frequency

    from retrieval.lexical.spelling import english_zipf

    words = [w for w in top_n_list("en", 400_000) if w.isascii() and w.isalpha() and w.islower()][::20]
    rng = random.Random(7)
    words += ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(1, 14))) for _ in range(3000)]
    words += ["transfomers", "normalisaton", "prolem", "Mixed", "naïve", "resnet50", ""]
    assert [english_zipf.__wrapped__(w) for w in words] == [zipf_frequency(w, "en") for w in words]


def test_the_english_table_is_wordfreqs():
    from wordfreq import get_frequency_dict

    from retrieval.lexical.spelling import _english

    assert _english() == get_frequency_dict("en", "best")
