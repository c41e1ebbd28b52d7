"""The evaluation's metrics, each a small function over plain data, with its formula.

Nothing here loads a model or an index: the runner hands in retrieved passages, answer sentences
and a :class:`~qa.verify.SupportJudge`, so every metric can be checked by hand (see
``tests/test_eval_metrics.py``). ``docs/eval/METRICS.md`` repeats these definitions for readers.

Retrieval (per question with gold evidence; ``G`` = its gold items, ``R`` = retrieved chunks, best first)
    A chunk *holds* a gold item when it contains the gold quote after folding case, typographic
    quotes, dashes and white space, or, for a question that gives sources but no quotes, when it
    comes from the gold source.

    recall@k = |{g in G : some chunk among R[:k] holds g}| / |G|          (k = 1, 3, 5, 10)
    MRR      = 1 / rank of the first chunk in R[:10] holding any gold item (0 when none does)

Answers
    answer accuracy    = correct answers / answerable questions, where an answer is correct when
                         it is not a refusal and an ``expected`` string appears in it (all of
                         ``expected_all`` when given), after :func:`normalise`
    refusal accuracy   = refusals / unanswerable questions
    false-refusal rate = refusals / answerable questions

Grounding, after ALCE (Gao et al., 2023, "Enabling Large Language Models to Generate Text with
Citations"); ``supports(s, C)`` is true when the judge scores sentence ``s`` at or above its
threshold against one passage of ``C`` alone or against all of ``C`` joined::

    citation recall    = sentences s with supports(s, cited(s)) / sentences
    citation precision = precise citations / citations, where citation c of sentence s is precise when
                         supports(s, cited(s)) and (supports(s, {c}) or not supports(s, cited(s) - {c}))
    uncited share      = sentences with no citation / sentences

    A sentence without citations counts against recall; a citation of a sentence its passages do
    not support is never precise. Each is computed per answer, then averaged over the answers that
    have sentences (resp. citations); refusals have none.

Confidence (what an answer says of itself: ``Answer.confidence``, the probability it is right)
    An answer given is *right* when it is correct (above) for an answerable question; any answer to
    an unanswerable question is wrong. With the answers' confidences in 10 equal-width bins B_b:

    ECE = sum over bins of |B_b| / n * |mean confidence in B_b - share right in B_b|

    computed over the answers given (refusals have nothing to be right about); the reliability
    diagram plots share right against mean confidence per bin (a calibrated answer lies on the
    diagonal).

Latency
    p50, p95 of the seconds each question took to answer, by the nearest-rank percentile:
    ``sorted(x)[ceil(p/100 * n) - 1]``.

Judge agreement (``python -m qa.eval judge``)
    accuracy = agreeing pairs / pairs;  Cohen's kappa = (p_o - p_e) / (1 - p_e), where p_o is the
    accuracy and p_e = p_h(yes) * p_j(yes) + p_h(no) * p_j(no) the agreement expected by chance from
    the human's (h) and the judge's (j) label frequencies.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from core.lexical import fold
from qa.verify import SupportJudge

K_VALUES = (1, 3, 5, 10)
_MARKER = re.compile(r"\s*\[\d+\]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_SPACE = re.compile(r"\s+")


# --- answers


def normalise(text: str) -> str:
    """Lower case, plain quotes and dashes, no thousands separators or ``[n]`` markers, single spaces.

    >>> normalise("Ukrainian intelligence: “12,000” troops [1].")
    'ukrainian intelligence: "12000" troops.'
    """
    text = _MARKER.sub("", fold(text))
    return _SPACE.sub(" ", _THOUSANDS.sub("", text)).strip()


def mentions(answer: str, expected: str) -> bool:
    """Whether ``expected`` appears in ``answer`` after :func:`normalise`, not inside a longer word
    or number ("3,000" is not found in "13,000"; "Kirby" is found in "Kirby's").

    >>> mentions("It was 12000 [1].", "12,000"), mentions("It was 13,000.", "3,000")
    (True, False)
    """
    want = normalise(expected)
    if not want:
        return False
    before = r"(?<![0-9a-z])" if want[0].isalnum() else ""
    after = r"(?![0-9a-z])" if want[-1].isalnum() else ""
    # A trailing "s" or "'s" may follow a word ("officer" in "officers"), never a digit.
    if want[-1].isalpha():
        after = r"(?:'?s)?(?![0-9a-z])"
    return re.search(before + re.escape(want) + after, normalise(answer)) is not None


def answer_correct(
    answer: str, refused: bool, expected: Sequence[str], expected_all: Sequence[str] = ()
) -> bool | None:
    """Whether a (non-refused) answer gives an expected string; all of ``expected_all`` when given.

    ``None`` when the question lists nothing to expect (it cannot be scored).

    >>> answer_correct("They sent 3,000 [1] and later 10,000 [2].", False, [], ["3000", "10,000"])
    True
    """
    if not expected and not expected_all:
        return None
    if refused:
        return False
    if expected_all:
        return all(mentions(answer, e) for e in expected_all)
    return any(mentions(answer, e) for e in expected)


# --- retrieval


def fold_space(text: str) -> str:
    """Text folded for quote matching: :func:`core.lexical.fold` and single spaces.

    >>> fold_space("Biden’s  national\\nsecurity")
    "biden's national security"
    """
    return _SPACE.sub(" ", fold(text)).strip()


def gold_hits(
    passages: Iterable[tuple[str, str]], quotes: Sequence[str], sources: Sequence[str]
) -> list[set[int]]:
    """For each retrieved ``(source, text)``, the indexes of the gold items it holds.

    Gold items are the quotes, or the sources when no quote is given.

    >>> gold_hits([("a.txt", "He said: “Yes.”"), ("b.txt", "No.")], ['he said: "yes."'], ["a.txt"])
    [{0}, set()]
    >>> gold_hits([("a.txt", "x"), ("b.txt", "y")], [], ["b.txt"])
    [set(), {0}]
    """
    folded_quotes = [fold_space(q) for q in quotes]
    hits = []
    for source, text in passages:
        if folded_quotes:
            folded = fold_space(text)
            hits.append({i for i, quote in enumerate(folded_quotes) if quote and quote in folded})
        else:
            hits.append({i for i, gold in enumerate(sources) if gold == source})
    return hits


def recall_at(hits: Sequence[set[int]], n_gold: int, k: int) -> float:
    """Share of the ``n_gold`` gold items held by the first ``k`` chunks.

    >>> recall_at([set(), {1}, {0, 1}], n_gold=2, k=2), recall_at([set(), {1}, {0, 1}], n_gold=2, k=3)
    (0.5, 1.0)
    """
    found: set[int] = set().union(*hits[:k]) if hits[:k] else set()
    return len(found) / n_gold if n_gold else 0.0


def reciprocal_rank(hits: Sequence[set[int]]) -> float:
    """1 / rank of the first chunk holding any gold item; 0 when none does.

    >>> reciprocal_rank([set(), set(), {0}])
    0.3333333333333333
    """
    return next((1 / rank for rank, held in enumerate(hits, start=1) if held), 0.0)


# --- grounding (ALCE)


@dataclass
class SentenceJudgement:
    """One answer sentence as judged: is it supported by what it cites, and is each citation precise."""

    text: str
    citations: list[int]
    supported: bool  # supports(s, cited(s))
    precise: list[bool] = field(default_factory=list)  # one per citation, in order
    alone: list[float] = field(default_factory=list)  # the judge's score of each citation alone


def supported_by(
    judge: SupportJudge, claim: str, passages: Sequence[str], alone: Sequence[float] | None = None
) -> bool:
    """``supports(claim, passages)``: one passage alone, or all of them joined, meets the threshold."""
    if not passages:
        return False
    scores = list(alone) if alone is not None else [judge.score(claim, p) for p in passages]
    if any(score >= judge.threshold for score in scores):
        return True
    return len(passages) > 1 and judge.score(claim, " ".join(passages)) >= judge.threshold


def judge_sentence(
    judge: SupportJudge, text: str, citations: Sequence[int], passages: Sequence[str]
) -> SentenceJudgement:
    """Citation recall and precision of one sentence, ALCE-style (see the module docstring).

    ``passages[i]`` is the text that citation ``citations[i]`` points to.
    """
    if not citations:
        return SentenceJudgement(text, [], supported=False)
    alone = [judge.score(text, p) for p in passages]
    supported = supported_by(judge, text, passages, alone)
    precise = []
    for i, score in enumerate(alone):
        if not supported:
            precise.append(False)
        elif score >= judge.threshold:
            precise.append(True)
        else:
            rest = [p for j, p in enumerate(passages) if j != i]
            precise.append(not supported_by(judge, text, rest, [s for j, s in enumerate(alone) if j != i]))
    return SentenceJudgement(text, list(citations), supported, precise, [round(s, 4) for s in alone])


@dataclass(frozen=True)
class Grounding:
    """One answer's grounding metrics; ``None`` where there is nothing to measure."""

    citation_recall: float | None
    citation_precision: float | None
    uncited_share: float | None


def grounding(judgements: Sequence[SentenceJudgement]) -> Grounding:
    """Citation recall, citation precision and uncited share of one answer's sentences.

    >>> s = [SentenceJudgement("a", [1, 2], True, [True, False]), SentenceJudgement("b", [], False)]
    >>> grounding(s)
    Grounding(citation_recall=0.5, citation_precision=0.5, uncited_share=0.5)
    """
    if not judgements:
        return Grounding(None, None, None)
    cited = [flag for j in judgements for flag in j.precise]
    return Grounding(
        citation_recall=sum(j.supported for j in judgements) / len(judgements),
        citation_precision=sum(cited) / len(cited) if cited else None,
        uncited_share=sum(not j.citations for j in judgements) / len(judgements),
    )


# --- aggregates


def mean(values: Iterable[float | bool | None]) -> float | None:
    """Mean of the values that are not ``None``; ``None`` when there are none.

    >>> mean([1.0, None, 0.0, True])
    0.6666666666666666
    """
    kept = [float(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile: ``sorted(values)[ceil(p/100 * n) - 1]``.

    >>> percentile([40, 10, 30, 20], 50), percentile([40, 10, 30, 20], 95)
    (20, 40)
    """
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class Bin:
    """One bin of a reliability diagram."""

    low: float
    high: float
    n: int
    confidence: float | None  # mean predicted probability
    accuracy: float | None  # share right


def reliability(probabilities: Sequence[float], outcomes: Sequence[bool], bins: int = 10) -> list[Bin]:
    """Predictions in ``bins`` equal-width bins of probability (1.0 falls in the last).

    >>> [(b.n, b.accuracy) for b in reliability([0.05, 0.95, 0.91], [False, True, False], 2)]
    [(1, 0.0), (2, 0.5)]
    """
    if len(probabilities) != len(outcomes):
        raise ValueError(f"{len(probabilities)} probabilities but {len(outcomes)} outcomes")
    found = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [
            (p, o)
            for p, o in zip(probabilities, outcomes, strict=True)
            if low <= p < high or (b == bins - 1 and p >= high)
        ]
        found.append(
            Bin(
                round(low, 4),
                round(high, 4),
                len(inside),
                sum(p for p, _ in inside) / len(inside) if inside else None,
                sum(o for _, o in inside) / len(inside) if inside else None,
            )
        )
    return found


def ece(probabilities: Sequence[float], outcomes: Sequence[bool], bins: int = 10) -> float | None:
    """Expected calibration error (see the module docstring); ``None`` for no predictions.

    >>> round(ece([0.9, 0.9, 0.1, 0.1], [True, False, False, False]), 3)
    0.25
    """
    return ece_of(reliability(probabilities, outcomes, bins))


def ece_of(bins: Sequence[Bin]) -> float | None:
    """The ECE of a reliability diagram already binned; ``None`` when no bin holds a prediction."""
    n = sum(b.n for b in bins)
    if n == 0:
        return None
    return sum(b.n / n * abs((b.confidence or 0.0) - (b.accuracy or 0.0)) for b in bins if b.n)


@dataclass(frozen=True)
class Agreement:
    """How well a judge's yes/no labels agree with a human's."""

    n: int
    accuracy: float | None
    kappa: float | None  # None when chance agreement is 1 (both label one class only)
    true_pos: int  # human yes, judge yes
    false_pos: int  # human no, judge yes
    false_neg: int  # human yes, judge no
    true_neg: int  # human no, judge no


def agreement(human: Sequence[bool], judge: Sequence[bool]) -> Agreement:
    """Accuracy and Cohen's kappa, ``(p_o - p_e) / (1 - p_e)`` (see the module docstring).

    >>> a = agreement([True] * 10 + [False] * 10, [True] * 8 + [False] * 2 + [True] * 3 + [False] * 7)
    >>> a.accuracy, a.kappa
    (0.75, 0.5)
    """
    if len(human) != len(judge):
        raise ValueError(f"{len(human)} human labels but {len(judge)} judge labels")
    n = len(human)
    tp = sum(h and j for h, j in zip(human, judge, strict=True))
    tn = sum(not h and not j for h, j in zip(human, judge, strict=True))
    fp = sum(not h and j for h, j in zip(human, judge, strict=True))
    fn = n - tp - tn - fp
    if n == 0:
        return Agreement(0, None, None, 0, 0, 0, 0)
    p_o = (tp + tn) / n
    p_e = ((tp + fn) / n) * ((tp + fp) / n) + ((tn + fp) / n) * ((tn + fn) / n)
    kappa = (p_o - p_e) / (1 - p_e) if p_e < 1 else None
    return Agreement(n, p_o, None if kappa is None else round(kappa, 6), tp, fp, fn, tn)
