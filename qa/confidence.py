"""How likely an answer is to be right: a learned, calibrated answerability model.

Support ("the quote says this") and answerability ("this answers what was asked") are different
things: a verbatim quote always supports itself. This module estimates the second. From the
question and the scored candidate sentences of the retrieved passages it computes a few features
(:func:`features`: how much of the question the best sentence and its passage cover, how close
the runner-up is, whether the sentence holds the kind of thing asked for, names the corpus never
mentions, a negation in the question, …) and a logistic model turns them into the probability
that the extractive answer is right. Nothing here is a phrase list: the weights are learned by
``python -m qa.train`` from questions nobody on this project wrote (SQuAD 2.0, half of them made
to look answerable but not be) and the development split of the project's own questions, and the
abstention threshold is chosen on those same training data, never on a held-out part.

The model is a small JSON file (``qa/models/answerability.json``: feature names, standardisation,
weights, threshold, what it was trained on and its figures); scoring is a dot product (microseconds).

    >>> model = AnswerabilityModel(["a"], [0.0], [1.0], [2.0], 0.0, 0.5)
    >>> round(model.probability({"a": 1.0}), 3)
    0.881
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ModelFileError
from core.lexical import NEGATION, fold, names, numbers, terms
from core.settings import PACKAGED_ANSWERABILITY_MODEL
from qa.answer import Assessment
from qa.extractive.candidates import WEIGHTS
from qa.reader import probability

if TYPE_CHECKING:
    from core.settings import Settings
    from qa.answer import Library
    from qa.extractive.candidates import Candidate
    from qa.followup import Resolved
    from qa.schema import Passage

DEFAULT_MODEL = PACKAGED_ANSWERABILITY_MODEL


@dataclass(frozen=True)
class Calibration:
    """Platt scaling of the model's log-odds for one corpus, and the threshold chosen there:
    ``p' = sigmoid(scale * logit(p) + shift)``. Fitted on that corpus's learn split."""

    scale: float = 1.0
    shift: float = 0.0
    threshold: float = 0.5


@dataclass(frozen=True)
class AnswerabilityModel:
    """A logistic model over :func:`features`, with a calibration per corpus it was trained on.

    The same features mean different odds on different corpora (the project's news questions are
    right far more often than SQuAD's adversarial ones), so each corpus with labelled questions gets
    its own calibration and threshold; ``Settings.calibration`` picks one (``none``: the raw model).
    """

    names: list[str]
    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float
    threshold: float  # for the raw model
    info: dict[str, Any] = field(default_factory=dict)
    calibrations: dict[str, Calibration] = field(default_factory=dict)
    # The extractive answerer's weights its training candidates were scored with (ExtractiveWeights).
    extractive_weights: dict[str, float] = field(default_factory=lambda: WEIGHTS.record())

    def probability(self, values: dict[str, float], calibration: str = "none") -> float:
        z = self.bias
        for name, mean, scale, weight in zip(self.names, self.mean, self.scale, self.weights, strict=True):
            z += weight * (values.get(name, 0.0) - mean) / scale
        if calibration != "none":
            fitted = self.calibration(calibration)
            z = fitted.scale * z + fitted.shift
        return probability(z)

    def calibration(self, name: str) -> Calibration:
        if name == "none":
            return Calibration(threshold=self.threshold)
        if name not in self.calibrations:
            known = ", ".join(["none", *self.calibrations])
            raise ModelFileError(
                f"The answerability model has no calibration {name!r}; known: {known} (QA_CALIBRATION)"
            )
        return self.calibrations[name]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": 1,
            "names": self.names,
            "mean": self.mean,
            "scale": self.scale,
            "weights": self.weights,
            "bias": self.bias,
            "threshold": self.threshold,
            "calibrations": {k: [v.scale, v.shift, v.threshold] for k, v in self.calibrations.items()},
            "info": self.info,
            "extractive_weights": self.extractive_weights,
        }


@lru_cache(maxsize=4)
def load_model(path: Path = DEFAULT_MODEL) -> AnswerabilityModel:
    """The model in ``path``; :class:`ModelFileError` saying how to make one when it cannot be read."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != 1:
            raise ValueError(f"format {data.get('format')!r}, expected 1")
        model = AnswerabilityModel(
            list(data["names"]),
            [float(v) for v in data["mean"]],
            [float(v) for v in data["scale"]],
            [float(v) for v in data["weights"]],
            float(data["bias"]),
            float(data["threshold"]),
            dict(data.get("info", {})),
            {k: Calibration(*(float(x) for x in v)) for k, v in data.get("calibrations", {}).items()},
            dict(data.get("extractive_weights", {})),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelFileError(
            f"Cannot read the answerability model {path} ({error}): "
            "run `python -m qa.train` to make it, or unset QA_ANSWERABILITY_MODEL"
        ) from error
    current = WEIGHTS.record()
    if model.extractive_weights != current:
        changed = ", ".join(
            f"{name} {model.extractive_weights.get(name, 'not recorded')} -> {value}"
            for name, value in current.items()
            if model.extractive_weights.get(name) != value
        )
        raise ModelFileError(
            f"The answerability model {path} was trained with other weights of the extractive answerer "
            f"({changed}): its features would not mean what they meant; run `python -m qa.train` to "
            "retrain it"
        )
    return model


_CAPITALISED_WORD = re.compile(r"[A-Z][a-z]+")


def unknown_names(question: str, library: Library) -> list[str]:
    """The names and quantities of ``question`` that no indexed document mentions.

    A capitalised word counts as a name only away from the start of a sentence, where any word is
    capitalised ("Summarize …", "Explain …"), unless it is an initialism or has an inner capital.
    """
    found = names(question, sentence_initial=False)
    for word in re.findall(r"(?:^|[.!?]\s+)[\"“(]*([A-Z][\w'’.-]*[\w])", question):
        if not _CAPITALISED_WORD.fullmatch(word):  # "NATO", "U.S.", "McDonald"
            found |= names(word)
    return [w for w in sorted(found | numbers(question)) if not library.mentions(w)]


UNKNOWN_DECIDES_UP_TO = 12  # content words of a question one unknown name refuses on its own
UNKNOWN_SHARE_DECIDES = 0.25  # in a longer question, the share of its words the unknown ones must be


def unknown_decides(unknown: Sequence[str], question: str) -> bool:
    """Whether the names of ``question`` no document mentions make it unanswerable: in a short
    question, any; in a long one ("…and did they pass through X?"), only when they are a good part
    of it.

    >>> unknown_decides(["Zelenogorsk"], "What happened in Zelenogorsk?")
    True
    >>> unknown_decides(["Zelenogorsk"], " ".join(f"word{i}" for i in range(20)) + " Zelenogorsk")
    False
    """
    if not unknown:
        return False
    asked = set(terms(question))
    return len(asked) <= UNKNOWN_DECIDES_UP_TO or len(unknown) / len(asked) >= UNKNOWN_SHARE_DECIDES


def features(
    question: Resolved,
    candidates: Sequence[Candidate],
    passages: Sequence[Passage],
    library: Library,
    unknown: Sequence[str],
) -> dict[str, float]:
    """What the model reads; ``candidates`` are the scored sentences, best first.

    All are numbers in about 0..1 (counts are capped), so that one model fits any corpus.
    """
    from qa.extractive.question import names_someone, question_kind, values

    asked = set(terms(question.question))
    idf = {t: library.idf(t) for t in asked}
    total = sum(idf.values()) or 1.0
    rarest = max(idf.values(), default=1.0) or 1.0
    best = candidates[0] if candidates else None
    second = candidates[1] if len(candidates) > 1 else None
    passage_text = " ".join(p.text for p in passages if best is not None and p.source == best.span.source)
    in_passages = set(terms(passage_text))
    in_best = set(terms(best.text)) if best else set()
    missing_best = [idf[t] for t in asked - in_best]
    kind = question_kind(question.question)
    top = sorted((c.cosine for c in candidates), reverse=True)[:3]
    # Names and figures of the question that the best sentence's passages never state ("entity swap").
    wanted = names(question.question, sentence_initial=False) | numbers(question.question)
    folded = fold(passage_text).replace(",", "")
    absent = [w for w in wanted if w.replace(",", "") not in folded]
    read = [c.reader for c in candidates if c.reader is not None]
    reader = {}
    if read:  # the reader's view: how likely its best sentence answers, and how far ahead of the next
        ranked = sorted(read, reverse=True)
        reader = {
            "reader": probability(ranked[0]),
            "reader_logit": max(-10.0, min(10.0, ranked[0])) / 10,
            "reader_margin": probability(ranked[0]) - probability(ranked[1]) if len(ranked) > 1 else 1.0,
        }
    return reader | {
        "cosine": best.cosine if best else 0.0,
        "coverage": best.coverage if best else 0.0,
        "score": best.confidence if best else 0.0,
        "margin": (best.confidence - second.confidence) if best and second else 0.0,
        "cosine_top3": sum(top) / len(top) if top else 0.0,
        "passage_coverage": sum(idf[t] for t in asked & in_passages) / total,
        "rarest_missing": max(missing_best, default=0.0) / rarest,
        "missing_share": len(missing_best) / (len(asked) or 1),
        "kind_asked": 1.0 if kind else 0.0,
        "kind_found": 1.0 if kind and best and values(best.text, kind, asked) else 0.0,
        "dense_top": max((p.dense_score or 0.0 for p in passages), default=0.0),
        "best_rank": 1.0 / best.rank if best else 0.0,
        "unknown": min(len(unknown), 3) / 3,
        "negation": 1.0 if NEGATION.search(question.question) else 0.0,
        "negation_unmatched": 1.0
        if NEGATION.search(question.question) and not (best and NEGATION.search(best.text))
        else 0.0,
        "names_absent": len(absent) / len(wanted) if wanted else 0.0,
        "who_named": 1.0 if kind == "who" and best and names_someone(best.text, asked) else 0.0,
        "terms": min(len(asked), 12) / 12,
        "followup": 1.0 if question.is_followup else 0.0,
    }


def assess(
    question: Resolved,
    candidates: Sequence[Candidate],
    passages: Sequence[Passage],
    library: Library,
) -> Assessment:
    """The model's probability that answering from ``candidates`` is right, with its inputs."""
    unknown = unknown_names(question.question, library)
    if not unknown_decides(unknown, question.question):
        unknown = []  # a small part of a long question: the rest of it can still be answered
    values = features(question, candidates, passages, library, unknown)
    settings = library.settings
    model = load_model(settings.resolved_answerability_model)
    return Assessment(round(model.probability(values, settings.calibration), 4), values, tuple(unknown))


def abstain_threshold(settings: Settings) -> float:
    """``Settings.abstain_below``, or the threshold chosen with the settings' calibration."""
    if settings.abstain_below is not None:
        return settings.abstain_below
    return load_model(settings.resolved_answerability_model).calibration(settings.calibration).threshold


def metadata_assessment(settings: Settings, found: bool) -> Assessment:
    """A question about the articles themselves (author, date, …) is answered from their metadata:
    its confidence is the share of such questions answered right when the model was trained."""
    model = load_model(settings.resolved_answerability_model)
    rates = model.info.get("metadata_accuracy", {})
    rate = rates.get(settings.calibration, sum(rates.values()) / len(rates) if rates else 0.5)
    return Assessment(float(rate) if found else 0.0, {"metadata": 1.0})
