"""The reader: it re-ranks the extractive answerer's candidates, and its view feeds the confidence.

The fast tests put a fake reader behind the seam (:class:`tests.test_contracts.FakeReader`); the
slow ones load the packaged int8 ONNX model and check that it reads: on made-up sentences no
training pair holds, the one that answers scores above the one that only shares words.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ModelFileError
from core.settings import Settings
from qa.confidence import features
from qa.extractive.answerer import ExtractiveAnswerer
from qa.followup import Resolved
from qa.reader import OnnxReader, pair_text
from qa.schema import Passage
from tests.test_contracts import FakeLibrary, FakeReader, passages


class Scripted:
    """A reader that gives the sentence holding ``liked`` a high score, every other a low one."""

    name = "scripted"

    def __init__(self, liked: str) -> None:
        self.liked = liked
        self.read: list[tuple[str, list[tuple[str, str]]]] = []

    def logits(self, question: str, candidates: list[tuple[str, str]]) -> list[float]:
        self.read.append((question, list(candidates)))
        return [5.0 if self.liked in sentence else -5.0 for sentence, _ in candidates]


def _library() -> FakeLibrary:
    return FakeLibrary(Settings(_env_file=None))  # type: ignore[call-arg]


def test_the_reader_re_ranks_the_best_candidates_and_the_rest_keep_their_order() -> None:
    library = _library()
    question = Resolved("How many trucks did the alpha convoy carry?", "", False)
    plain = ExtractiveAnswerer().candidates(question, passages(), library)
    assert len(plain) >= 3 and all(c.reader is None for c in plain)
    liked = plain[2].text  # the hand-set score's third
    reader = Scripted(liked)
    read = ExtractiveAnswerer(reader, read=3).candidates(question, passages(), library)
    assert read[0].text == liked and read[0].reader == 5.0
    assert [c.text for c in read[3:]] == [c.text for c in plain[3:]]
    assert all(c.reader is None for c in read[3:])
    ((asked, pairs),) = reader.read
    assert asked == question.question and len(pairs) == 3
    # Each candidate is read with the sentence before it in its document.
    assert any(before for _, before in pairs)


def test_a_follow_up_is_read_as_the_resolved_question() -> None:
    library = _library()
    reader = Scripted("trucks")
    question = Resolved(
        "And the beta one?", "How many trucks did the alpha convoy carry? And the beta one?", True
    )
    ExtractiveAnswerer(reader).candidates(question, passages(), library)
    assert reader.read[0][0] == question.query


def test_the_readers_view_is_what_the_confidence_reads() -> None:
    library = _library()
    question = Resolved("How many trucks did the alpha convoy carry?", "", False)
    candidates = ExtractiveAnswerer(FakeReader()).candidates(question, passages(), library)
    found = features(question, candidates, passages(), library, [])
    assert 0.5 < found["reader"] <= 1.0 and 0.0 <= found["reader_margin"] <= 1.0
    unread = ExtractiveAnswerer().candidates(question, passages(), library)
    assert "reader" not in features(question, unread, passages(), library, [])


def test_a_sentence_that_asks_a_question_is_never_an_answer() -> None:
    text = (
        "Convoy Notes\nWhy exactly does it matter that the convoy carried trucks to the border? "
        "The convoy carried trucks because the bridge had fallen.\n"
    )
    library = _library()
    library_text = {"notes.txt": text}
    library.text = library_text.__getitem__  # type: ignore[method-assign]
    passage = Passage(id="n#0", source="notes.txt", text=text, start=0, end=len(text), rank=1, score=1.0)
    question = Resolved("Why did the convoy carry trucks to the border?", "", False)
    found = ExtractiveAnswerer().candidates(question, [passage], library)
    assert found and not any(c.text.rstrip().endswith("?") for c in found)
    assert "because the bridge had fallen" in found[0].text


def test_an_incomplete_reader_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "reader.json").write_text("{}")
    with pytest.raises(ModelFileError, match=r"model\.onnx is missing.*python -m qa\.train_reader export"):
        OnnxReader(tmp_path)


def test_what_the_reader_reads() -> None:
    assert pair_text("Who spoke?", "He said so.", "") == ("Who spoke?", "He said so.")
    assert pair_text("Who spoke?", "He said so.", "Kim rose.") == (
        "Who spoke?",
        "He said so. [SEP] Kim rose.",
    )


@pytest.mark.slow
def test_the_packaged_reader_tells_an_answer_from_a_sentence_that_shares_its_words() -> None:
    """Made-up pairs (no training pair holds them): the answer outscores the lookalike."""
    from qa.reader import load_reader

    model_dir = Settings(_env_file=None).resolved_reader_model  # type: ignore[call-arg]
    if not (model_dir / "model.onnx").is_file():
        pytest.skip(
            "no reader model yet: `python -m qa.train_reader export` makes it (docs/models/reader.md)"
        )
    reader = load_reader(model_dir)
    cases = [
        (
            "What colour is the lighthouse on Marrow Point?",
            "The lighthouse on Marrow Point is painted a deep green.",
            "Visitors to Marrow Point often ask about the lighthouse.",
        ),
        (
            "How many bridges cross the Elvan river?",
            "Seven bridges cross the Elvan river within the city.",
            "The Elvan river floods in spring, and its bridges are closed.",
        ),
        (
            "Who founded the Tarn Valley orchestra?",
            "The Tarn Valley orchestra was founded by the violinist Ada Morrel in 1931.",
            "Who founded the Tarn Valley orchestra is still debated at its concerts.",
        ),
    ]
    for question, answer, lookalike in cases:
        right, wrong = reader.logits(question, [(answer, ""), (lookalike, "")])
        assert right > wrong, (question, right, wrong)
