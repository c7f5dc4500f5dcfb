import pytest
from pydantic import ValidationError

from corpus.models import Paper, normalise_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2403.05530", ("2403.05530", None)),
        ("2403.05530v2", ("2403.05530", 2)),
        ("arXiv:2403.05530v3", ("2403.05530", 3)),
        ("https://arxiv.org/abs/2403.05530v1", ("2403.05530", 1)),
        ("http://arxiv.org/pdf/2403.05530.pdf", ("2403.05530", None)),
        ("0704.0001", ("0704.0001", None)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("hep-th/9901001v2", ("hep-th/9901001", 2)),
        ("math.AG/0101001", ("math.AG/0101001", None)),
        ("4983", ("4983", None)),  # SciFact keeps its own ids
        ("SJ1Xmf-Rb", ("SJ1Xmf-Rb", None)),  # so does SciTLDR
    ],
)
def test_ids_are_normalised(raw, expected):
    assert normalise_id(raw) == expected


@pytest.mark.parametrize("raw", ["arXiv:not-an-id", "", "two words", "bad\x00id"])
def test_bad_ids_are_refused_with_the_value(raw):
    with pytest.raises(ValidationError) as info:
        Paper(id=raw, abstract="Some text.")
    assert "id" in str(info.value)


def test_missing_abstract_names_the_field():
    with pytest.raises(ValidationError) as info:
        Paper(id="2403.05530", abstract="   ")
    assert "abstract" in str(info.value)


def test_derived_fields():
    paper = Paper(id="arXiv:2403.05530v2", title="A &amp; B\n  \\emph{C}", abstract="One. Two, e.g. three. Four.")
    assert paper.version == 2
    # the loaders clean titles once, at ingest; the model only folds whitespace, so a stored title reads back as stored
    assert paper.title == "A &amp; B \\emph{C}"
    assert Paper.model_validate_json(paper.model_dump_json()) == paper
    assert paper.url == "https://arxiv.org/abs/2403.05530"
    assert paper.sentences == ["One.", "Two, e.g. three.", "Four."]
