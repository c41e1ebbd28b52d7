"""Check that each answer sentence is supported by the passages it cites.

A :class:`SupportJudge` scores a (claim, passage) pair in ``[0, 1]``; the default,
:class:`OverlapJudge`, needs no LLM:

- *coverage*: the share of the claim's content words found in the passage (stemmed);
- *meaning*: the cosine similarity of their embeddings, when an embedder is given;
- *hard checks*: a quantity or a name in the claim that the passage does not contain caps the score
  low, which catches a wrong figure ("10,000" for "12,000") and a wrong attribution ("U.S.
  intelligence" for "Ukrainian intelligence"); so does a negation on one side only.

The weights, caps and thresholds were chosen on the development split of
``tests/data/support_pairs.jsonl`` (hand-labelled pairs); ``python -m qa.eval judge`` reports
accuracy and Cohen's kappa on both splits.

    >>> judge = OverlapJudge()
    >>> passage = "Ukrainian intelligence places the number at 12,000."
    >>> judge.score("Ukrainian intelligence places the number at 12,000.", passage) > 0.9
    True
    >>> judge.score("U.S. intelligence places the number at 12,000.", passage) < 0.5
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from core.lexical import MONTHS, fold, names, negated, numbers, terms

if TYPE_CHECKING:
    from qa.llm import LLM
    from qa.prompts import Prompt

Embed = Callable[[list[str]], Sequence[Sequence[float]]]  # texts -> unit-length vectors
# Words an answer uses to frame a claim ("the sources differ", "according to"), not claims themselves.
FRAMING = frozenset(
    terms("source sources differ different figure figures date dates give gives article report stated state")
)
MISSING_NUMBER_CAP = 0.2
MISSING_NAME_CAP = 0.35
NEGATION_CAP = 0.4


class SupportJudge(Protocol):
    """Scores how well a passage supports a claim."""

    name: str
    threshold: float  # a score at or above it counts as "supported"

    def score(self, claim: str, passage: str) -> float: ...


class OverlapJudge:
    """Word coverage plus embedding similarity, with hard checks on quantities and names."""

    name = "overlap"

    def __init__(self, embed: Embed | None = None, coverage_weight: float = 0.5) -> None:
        self.embed = embed
        self.coverage_weight = coverage_weight if embed is not None else 1.0
        self.threshold = 0.75 if embed is not None else 0.6

    def score(self, claim: str, passage: str) -> float:
        claim_terms = [t for t in terms(claim) if t not in FRAMING]
        if not claim_terms:
            return 0.0
        passage_terms = set(terms(passage))
        coverage = sum(t in passage_terms for t in claim_terms) / len(claim_terms)
        score = coverage
        # A claim that is nothing but figures and dates ("different figures: 3,000 and 12,000") is
        # judged on them alone: embedding similarity says nothing about a list of numbers.
        values_only = all(t.isdigit() or t in MONTHS for t in claim_terms)
        if self.embed is not None and not values_only:
            claim_vector, passage_vector = self.embed([claim, passage])
            cosine = max(0.0, sum(a * b for a, b in zip(claim_vector, passage_vector, strict=True)))
            score = self.coverage_weight * coverage + (1 - self.coverage_weight) * cosine
        if not numbers(claim) <= numbers(passage):
            score = min(score, MISSING_NUMBER_CAP)
        folded_passage = fold(passage).replace(".", "")
        if any(name.replace(".", "") not in folded_passage for name in names(claim)):
            score = min(score, MISSING_NAME_CAP)
        if negated(claim) != negated(passage):
            score = min(score, NEGATION_CAP)
        return round(min(1.0, score), 4)


class LLMJudge:
    """A model that reads: P(yes) of "does the passage support the claim?" (``prompts/judge.toml``).

    Scores are cached per (claim, passage): the model is deterministic for a prompt, and an
    evaluation asks the same pair more than once.
    """

    def __init__(self, llm: LLM, prompt: Prompt, threshold: float = 0.5, cache_size: int = 4096) -> None:
        self.llm, self.prompt, self.threshold, self.cache_size = llm, prompt, threshold, cache_size
        self.name = f"llm:{llm.name}"
        self._cache: dict[tuple[str, str], float] = {}

    def score(self, claim: str, passage: str) -> float:
        key = (claim, passage)
        if key not in self._cache:
            quoted = passage.replace("<", "‹").replace(">", "›")
            probability = self.llm.yes_probability(self.prompt.messages(claim=claim, passage=quoted))
            if len(self._cache) >= self.cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = round(probability, 4)
        return self._cache[key]


def sentence_support(judge: SupportJudge, claim: str, quotes: Sequence[str]) -> tuple[float, list[float]]:
    """``(support of the claim by all its quotes together, score of each quote alone)``.

    Together is what citation recall asks (do the cited passages support the sentence); alone is
    what citation precision asks of each citation.
    """
    if not quotes:
        return 0.0, []
    alone = [judge.score(claim, quote) for quote in quotes]
    together = judge.score(claim, " ".join(quotes)) if len(quotes) > 1 else alone[0]
    return max(together, *alone), alone
