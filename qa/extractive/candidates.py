"""A candidate answer sentence and how it is scored: the hand-set weights of the extractive
answerer, which shape the features the answerability model was trained on."""

from __future__ import annotations

from dataclasses import dataclass

from qa.answer import Span

COSINE_WEIGHT = 0.6  # the rest is lexical coverage
KIND_BONUS = 0.06
FOLLOWUP_CONTEXT_WEIGHT = 0.35  # share of a follow-up's score that comes from the resolved query
SECOND_SOURCE_RATIO = 0.92  # a second article's sentence joins the answer when this close to the best
SPEAKER_LOOKBACK = 2  # sentences searched back for the name a "who" answer needs
CONFLICT_MARGIN = 0.15  # how far below the best a sentence with a different figure may score...
CONFLICT_COSINE_MARGIN = 0.2  # ...or how far below the best its similarity to the question may be
CONTEXT_DISCOUNT = 0.05  # a sentence read with the one before it ("…at 12,000") scores a little less
NEIGHBOURS = 1  # sentences read beyond each end of a passage: an answer may sit just outside a chunk


@dataclass
class Candidate:
    span: Span
    text: str
    cosine: float
    coverage: float
    bonus: float
    rank: int

    @property
    def confidence(self) -> float:
        """How sure we are the sentence answers: what abstention compares with its threshold."""
        return COSINE_WEIGHT * self.cosine + (1 - COSINE_WEIGHT) * self.coverage

    @property
    def score(self) -> float:
        return self.confidence + self.bonus
