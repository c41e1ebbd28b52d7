"""The answerability model and the rules issue 8 took out of the development set's phrasing.

Fast tier: no embedding model, no index (a small in-memory library stands in for the documents).
The same questions asked of the real pipeline are in ``tests/test_qa.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ModelFileError
from core.lexical import fold
from core.settings import Settings
from index.metadata import DocumentMetadata
from qa.answer import Span
from qa.confidence import (
    DEFAULT_MODEL,
    AnswerabilityModel,
    features,
    load_model,
    unknown_names,
)
from qa.eval.metrics import ece, reliability
from qa.extractive.candidates import Candidate
from qa.extractive.question import about_a_document, metadata_field, values
from qa.followup import Resolved
from qa.schema import Passage


class Corpus:
    """The part of :class:`qa.answer.Library` the confidence features read."""

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    def __init__(self, text: str) -> None:
        self.folded = fold(text)

    def mentions(self, word: str) -> bool:
        def plain(text: str) -> str:
            return fold(text).replace(",", "").replace(".", "")

        return plain(word) in plain(self.folded)

    def idf(self, term: str) -> float:
        return 1.0 if term in self.folded else 3.0


TREATY = Corpus(
    "North Korea and Russia signed a mutual defence treaty in June 2024. Putin visited Pyongyang. "
    "Ukrainian intelligence places the number at 12,000."
)


@pytest.mark.parametrize(
    "question",
    [
        "Summarize what the articles say about the treaty",
        "Explain the treaty between Russia and North Korea.",
        "Describe the treaty. List what it says.",
        "Compare what Putin said. Outline the treaty.",
    ],
)
def test_an_imperative_is_not_an_unknown_name(question: str) -> None:
    # It was: "The articles never mention Summarize."
    assert unknown_names(question, TREATY) == []


def test_unknown_names_are_names_and_figures_nobody_mentions() -> None:
    assert unknown_names("What did Emmanuel Macron say about the treaty?", TREATY) == ["emmanuel", "macron"]
    assert unknown_names("Who reported 15,000 troops?", TREATY) == ["15000"]
    assert unknown_names("NATO said what about Putin?", TREATY) == ["nato"]  # an initialism opens it
    assert unknown_names("Who reported 12,000 troops to Putin?", TREATY) == []


@pytest.mark.parametrize(
    ("question", "field"),
    [
        ("Who wrote the article?", "author"),
        ("Who is the author of the piece about the treaty?", "author"),
        ("What is the publication date of the article?", "date"),
        ("Which outlet published the story?", "publisher"),
        ("What does the author say about Iran?", None),  # it was: "The article is by Hal Brands."
        ("What does the writer argue about the treaty?", None),
        ("According to the author, what will Russia gain?", None),
        ("What is the author's view of the sanctions?", None),
        ("How many troops did the outlet report?", None),
    ],
)
def test_metadata_intent_is_read_from_the_whole_question(question: str, field: str | None) -> None:
    assert metadata_field(question) == field


class Titles:
    """Indexed documents with titles, for :func:`about_a_document`."""

    def __init__(self, *titles: str) -> None:
        self.titles = {f"{i}.txt": t for i, t in enumerate(titles)}

    def sources(self) -> list[str]:
        return sorted(self.titles)

    def metadata(self, source: str) -> DocumentMetadata:
        return DocumentMetadata(title=self.titles[source])


@pytest.mark.parametrize(
    ("question", "about"),
    [
        ("Who wrote the article 'Rumor of North Korea Troops in Ukraine'?", True),
        ("On which website did 'Opinion – North Korea's Gambit in the War' appear?", True),
        ("Who wrote it?", True),
        ("When was this published?", True),
        ("Who wrote the Nong Shu?", False),  # SQuAD: a book, not the article
        ("When was the European Convention of Human Rights written?", False),
        ('Who wrote "On the Computational Complexity of Science"?', False),  # not an indexed title
    ],
)
def test_a_metadata_question_must_be_about_an_indexed_document(question: str, about: bool) -> None:
    library = Titles(
        "Opinion – North Korea’s Gambit in the Russia-Ukraine War", "Computational complexity theory"
    )
    assert about_a_document(question, library) is about  # type: ignore[arg-type]


def test_a_day_of_the_month_is_not_a_figure() -> None:
    sentence = (
        "Kim Yong-hyun announced that 6 North Korean officers were killed near Donetsk on October 3. "
        "On 8th October, Ukraine announced a strike; 3 October was quiet; by 5 November 1,500 soldiers had left."
    )
    found = values(sentence, "how_many", {"north", "korean", "soldier", "officer"})
    assert found == {"6", "1500"}  # never 3, 8 or 5: days of the month


def candidate(text: str, cosine: float, coverage: float, rank: int = 1) -> Candidate:
    return Candidate(Span("a.txt", 0, len(text)), text, cosine, coverage, 0.0, rank)


def test_features_are_what_the_packaged_model_reads() -> None:
    model = load_model(DEFAULT_MODEL)
    question = Resolved(
        "How many troops did North Korea send?", "How many troops did North Korea send?", False
    )
    text = "North Korea sent 12,000 troops."
    passages = [Passage(id="1", source="a.txt", text=text, start=0, end=len(text), rank=1, score=1.0)]
    found = features(question, [candidate(text, 0.8, 0.9)], passages, TREATY, [])
    assert sorted(found) == sorted(model.names)
    assert all(0.0 <= v <= 1.0 for v in found.values()), found


def test_the_packaged_model_says_what_it_was_trained_on() -> None:
    model = load_model(DEFAULT_MODEL)
    assert 0.0 < model.threshold < 1.0
    info = model.info
    assert "squad2" in info["trained_on"] and "CC BY-SA" in info["trained_on"]["squad2"]
    assert info["command"].startswith("python -m qa.train")
    # How well it separates right from wrong is measured, not read from this file: the evaluation
    # gate (scripts/eval-ci.sh) scores it on the SQuAD articles it was not trained on.


def test_a_better_supported_answer_is_more_likely_right() -> None:
    model = load_model(DEFAULT_MODEL)
    question = Resolved(
        "How many troops did North Korea send?", "How many troops did North Korea send?", False
    )
    good_text, bad_text = "North Korea sent 12,000 troops to Russia.", "Putin visited Pyongyang."
    good = features(
        question,
        [candidate(good_text, 0.85, 1.0), candidate(bad_text, 0.3, 0.2, 2)],
        [
            Passage(
                id="1", source="a.txt", text=good_text, start=0, end=40, rank=1, score=1.0, dense_score=0.8
            )
        ],
        TREATY,
        [],
    )
    bad = features(
        question,
        [candidate(bad_text, 0.2, 0.1)],
        [Passage(id="1", source="a.txt", text=bad_text, start=0, end=24, rank=1, score=1.0, dense_score=0.2)],
        TREATY,
        [],
    )
    assert model.probability(good) > model.threshold > model.probability(bad)


def test_probability_is_a_logistic_of_standardised_features() -> None:
    model = AnswerabilityModel(["a", "b"], [0.5, 0.0], [0.5, 1.0], [1.0, -2.0], 0.5, 0.3)
    assert model.probability({"a": 1.0, "b": 0.0}) == pytest.approx(1 / (1 + pow(2.718281828459045, -1.5)))
    # A missing feature counts as 0: z = 0.5 + 1.0 * (0 - 0.5) / 0.5 - 2.0 * 0 = -0.5
    assert model.probability({}) == pytest.approx(1 / (1 + pow(2.718281828459045, 0.5)))


@pytest.mark.parametrize("content", ["", "{not json", '{"format": 2}', '{"format": 1, "names": []}'])
def test_an_unreadable_model_file_says_how_to_make_one(tmp_path: Path, content: str) -> None:
    path = tmp_path / f"model-{len(content)}.json"
    path.write_text(content)
    with pytest.raises(ModelFileError, match="python -m qa.train"):
        load_model(path)


def test_the_packaged_model_records_the_weights_it_was_trained_with() -> None:
    from qa.extractive.candidates import WEIGHTS

    assert load_model(DEFAULT_MODEL).extractive_weights == WEIGHTS.record()


@pytest.mark.parametrize("change", [{"cosine_weight": 0.5}, None])
def test_a_model_trained_with_other_extractive_weights_is_refused(tmp_path: Path, change) -> None:  # type: ignore[no-untyped-def]
    """Retuning a weight of the extractive answerer changes what the model's features mean: a model
    file recording other weights (or none) is refused, naming the command that retrains it."""
    data = json.loads(DEFAULT_MODEL.read_text(encoding="utf-8"))
    if change is None:
        del data["extractive_weights"]
    else:
        data["extractive_weights"] |= change
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data))
    expected = "cosine_weight 0.5 -> 0.6" if change else "cosine_weight not recorded -> 0.6"
    with pytest.raises(
        ModelFileError, match=f"other weights of the extractive answerer.*({expected}).*python -m qa.train"
    ):
        load_model(path)


def test_reliability_and_ece_by_hand() -> None:
    bins = reliability([0.15, 0.15, 0.85, 0.85, 1.0], [False, True, True, True, True], bins=10)
    assert [b.n for b in bins] == [0, 2, 0, 0, 0, 0, 0, 0, 2, 1]
    assert bins[1].accuracy == 0.5 and bins[8].confidence == pytest.approx(0.85)
    # |0.15 - 0.5| * 2/5 + |0.85 - 1| * 2/5 + |1.0 - 1| * 1/5
    assert ece([0.15, 0.15, 0.85, 0.85, 1.0], [False, True, True, True, True]) == pytest.approx(0.2)
    assert ece([], []) is None


def test_the_squad_questions_are_split_by_article() -> None:
    rows = [json.loads(line) for line in (Path(__file__).parent / "data/squad2/questions.jsonl").open()]
    by_article: dict[str, set[str]] = {}
    for row in rows:
        by_article.setdefault(row["sources"][0], set()).add(row["split"])
    assert all(len(splits) == 1 for splits in by_article.values())
    assert sorted(len([a for a, s in by_article.items() if s == {x}]) for x in ("dev", "heldout")) == [3, 7]
    unanswerable = sum(not r["answerable"] for r in rows) / len(rows)
    assert 0.4 < unanswerable < 0.6
