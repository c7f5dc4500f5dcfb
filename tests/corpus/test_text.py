import pytest

from corpus.text import clean_title, split_sentences

TRICKY = (
    "We use e.g. ResNet-50 and GPT-4, as in Smith et al. (2020). Results in Fig. 2 show 86.5% accuracy vs. 80.1% "
    "for the baseline. See arXiv:2403.05530 for details, i.e. the appendix. The model was trained on 10M tokens."
)


def test_scientific_sentences_survive():
    assert split_sentences(TRICKY) == [
        "We use e.g. ResNet-50 and GPT-4, as in Smith et al. (2020).",
        "Results in Fig. 2 show 86.5% accuracy vs. 80.1% for the baseline.",
        "See arXiv:2403.05530 for details, i.e. the appendix.",
        "The model was trained on 10M tokens.",
    ]


@pytest.mark.parametrize("text", [TRICKY, "No full stop at the end", "A.  B!  C?", "x" * 5000])
def test_sentences_are_verbatim_substrings(text):
    for sentence in split_sentences(text):
        assert sentence in text


def test_title_markup_is_removed_for_display():
    assert clean_title("Caf\\'{e} {\\em models} &lt;3 <b>bold</b>\n  wrapped") == "Café models <3 bold wrapped"
