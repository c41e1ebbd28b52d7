"""A candidate answer sentence and how it is scored: the hand-set weights of the extractive
answerer, which shape the features the answerability model was trained on."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from qa.answer import Span


@dataclass(frozen=True)
class ExtractiveWeights:
    """The extractive answerer's hand-set weights. They shape the candidates whose features the
    answerability model learns from, so the model file records the weights it was trained with and
    :func:`qa.confidence.load_model` refuses a model trained with others."""

    cosine_weight: float = 0.6  # a sentence's score: this much embedding similarity, the rest word coverage
    kind_bonus: float = 0.06  # added when the sentence holds the kind of thing asked for
    followup_context_weight: float = 0.35  # share of a follow-up's score that comes from the resolved query
    second_source_ratio: float = (
        0.92  # a second article's sentence joins the answer when this close to the best
    )
    speaker_lookback: int = 2  # sentences searched back for the name a "who" answer needs
    conflict_margin: float = 0.15  # how far below the best a sentence with a different figure may score...
    conflict_cosine_margin: float = 0.2  # ...or how far below the best its similarity to the question may be
    context_discount: float = (
        0.05  # a sentence read with the one before it ("…at 12,000") scores a little less
    )
    neighbours: int = 1  # sentences read beyond each end of a passage: an answer may sit just outside a chunk

    def record(self) -> dict[str, float]:
        return asdict(self)


WEIGHTS = ExtractiveWeights()


@dataclass
class Candidate:
    span: Span
    text: str
    cosine: float
    coverage: float
    bonus: float
    rank: int
    reader: float | None = None  # the reader's log-odds that the sentence answers (None: not read)

    @property
    def confidence(self) -> float:
        """How sure we are the sentence answers: what abstention compares with its threshold."""
        return WEIGHTS.cosine_weight * self.cosine + (1 - WEIGHTS.cosine_weight) * self.coverage

    @property
    def score(self) -> float:
        return self.confidence + self.bonus
