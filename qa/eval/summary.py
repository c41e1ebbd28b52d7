"""Rows to numbers: each metric per configuration and split, ratios to the baseline, and thresholds.

    summary = summarise(rows, ["default", "baseline"])
    summary["default"]["dev"]["answer_accuracy"]   # 0.82

Splits are the question set's own (``dev``, ``heldout``), each reported alone, plus ``all``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from qa.eval import metrics


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    better: Literal["higher", "lower", "neither"] = "higher"
    kind: Literal["share", "ms", "chars"] = "share"


METRICS: tuple[Metric, ...] = (
    *(Metric(f"recall@{k}", f"Retrieval recall@{k}") for k in metrics.K_VALUES),
    Metric("mrr", "Retrieval MRR@10"),
    Metric("answer_accuracy", "Answer accuracy"),
    Metric("refusal_accuracy", "Refusal accuracy (unanswerable)"),
    Metric("false_refusal_rate", "False-refusal rate (answerable)", "lower"),
    Metric("citation_recall", "Citation recall"),
    Metric("citation_precision", "Citation precision"),
    Metric("uncited_share", "Sentences without citation", "lower"),
    Metric("fallback_rate", "Fell back to the extractive answer", "lower"),
    Metric("ece", "Calibration error (ECE, answers given)", "lower"),
    Metric("unsure_rate", "Answers marked 'not sure'", "neither"),
    Metric("latency_p50_ms", "Latency p50 (ms)", "lower", "ms"),
    Metric("latency_p95_ms", "Latency p95 (ms)", "lower", "ms"),
    Metric("answer_chars", "Mean answer length (chars)", "neither", "chars"),
)
BY_KEY = {m.key: m for m in METRICS}
# Summary metric -> the per-question flag it is the mean of, for the "48/59" counts.
COUNTED = {
    "answer_accuracy": "answer_correct",
    "refusal_accuracy": "refusal_correct",
    "false_refusal_rate": "false_refusal",
    "fallback_rate": "fallback",
}

# --min-answer-accuracy 0.8 etc.: option name -> (metric, "min" or "max")
THRESHOLDS: dict[str, tuple[str, Literal["min", "max"]]] = {
    "min_answer_accuracy": ("answer_accuracy", "min"),
    "min_refusal_accuracy": ("refusal_accuracy", "min"),
    "max_false_refusal": ("false_refusal_rate", "max"),
    "min_citation_precision": ("citation_precision", "min"),
    "min_citation_recall": ("citation_recall", "min"),
    "min_recall_at_5": ("recall@5", "min"),
    "min_mrr": ("mrr", "min"),
    "max_ece": ("ece", "max"),
}


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every metric over some rows (one configuration, one split), plus how many rows each used."""
    values: dict[str, list[Any]] = {}
    for row in rows:
        for key, value in row["metrics"].items():
            values.setdefault(key, []).append(value)

    def mean_of(key: str) -> float | None:
        found = metrics.mean(values.get(key, []))
        return None if found is None else round(found, 4)

    calibration = calibrate(rows)
    latencies = [v for v in values.get("latency_s", []) if v is not None]
    p50, p95 = metrics.percentile(latencies, 50), metrics.percentile(latencies, 95)
    summary: dict[str, Any] = {f"recall@{k}": mean_of(f"recall@{k}") for k in metrics.K_VALUES}
    summary.update(
        mrr=mean_of("mrr"),
        answer_accuracy=mean_of("answer_correct"),
        refusal_accuracy=mean_of("refusal_correct"),
        false_refusal_rate=mean_of("false_refusal"),
        citation_recall=mean_of("citation_recall"),
        citation_precision=mean_of("citation_precision"),
        uncited_share=mean_of("uncited_share"),
        fallback_rate=mean_of("fallback"),
        ece=None if calibration["ece"] is None else round(calibration["ece"], 4),
        unsure_rate=mean_of("unsure"),
        reliability=calibration["bins"],
        latency_p50_ms=None if p50 is None else round(1000 * p50, 1),
        latency_p95_ms=None if p95 is None else round(1000 * p95, 1),
        answer_chars=None if mean_of("answer_chars") is None else round(mean_of("answer_chars") or 0.0),
        n_questions=len(rows),
        n_answerable=sum(r["answerable"] for r in rows),
        n_unanswerable=sum(not r["answerable"] for r in rows),
        n_with_gold=sum(r["metrics"]["mrr"] is not None for r in rows),
        n_with_sentences=sum(r["metrics"]["citation_recall"] is not None for r in rows),
        # [numerator, denominator] of the answer metrics, e.g. 48 of 59 answerable answered right.
        counts={
            key: [
                sum(v is True for v in values.get(row_key, [])),
                sum(v is not None for v in values.get(row_key, [])),
            ]
            for key, row_key in COUNTED.items()
        },
    )
    return summary


def calibrate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """ECE and reliability bins of the answers given that state a confidence."""
    pairs = [
        (r["metrics"]["confidence"], r["metrics"]["right"])
        for r in rows
        if r["metrics"].get("confidence") is not None and r["metrics"].get("right") is not None
    ]
    if not pairs:
        return {"ece": None, "bins": None}
    probabilities, outcomes = [p for p, _ in pairs], [o for _, o in pairs]
    bins = metrics.reliability(probabilities, outcomes)
    return {
        "ece": metrics.ece_of(bins),
        "bins": [
            {
                "low": b.low,
                "high": b.high,
                "n": b.n,
                "confidence": None if b.confidence is None else round(b.confidence, 4),
                "accuracy": None if b.accuracy is None else round(b.accuracy, 4),
            }
            for b in bins
        ],
    }


def splits_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The splits present, in a stable order (``dev`` and ``heldout`` first), then ``all``."""
    found = sorted({r["split"] for r in rows}, key=lambda s: ({"dev": 0, "heldout": 1}.get(s, 2), s))
    return [*found, "all"]


def summarise(
    rows: Sequence[dict[str, Any]], configurations: Sequence[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{configuration: {split: aggregate}}`` for every split and ``all``."""
    splits = splits_of(rows)
    return {
        name: {
            split: aggregate([r for r in rows if r["config"] == name and split in ("all", r["split"])])
            for split in splits
        }
        for name in configurations
    }


def by_type(rows: Sequence[dict[str, Any]], configuration: str, split: str) -> dict[str, dict[str, Any]]:
    """Answer accuracy (or refusal accuracy, for unanswerable types) and count per question type."""
    table: dict[str, dict[str, Any]] = {}
    chosen = [r for r in rows if r["config"] == configuration and split in ("all", r["split"])]
    for kind in sorted({r["type"] for r in chosen}):
        of_kind = [r for r in chosen if r["type"] == kind]
        answerable = [r["metrics"]["answer_correct"] for r in of_kind if r["answerable"]]
        refusals = [r["metrics"]["refusal_correct"] for r in of_kind if not r["answerable"]]
        table[kind] = {
            "n": len(of_kind),
            "answer_accuracy": metrics.mean(answerable),
            "refusal_accuracy": metrics.mean(refusals),
            "recall@5": metrics.mean(r["metrics"]["recall@5"] for r in of_kind),
        }
    return table


def ratio(value: float | None, baseline: float | None) -> float | None:
    """``value / baseline``; ``None`` when either is missing or the baseline is 0.

    >>> ratio(0.9, 0.6), ratio(0.5, 0.0)
    (1.5, None)
    """
    if value is None or baseline is None or baseline == 0:
        return None
    return round(value / baseline, 4)


def check_thresholds(
    summary: dict[str, dict[str, dict[str, Any]]], given: dict[str, float | None], gate: str, split: str
) -> list[str]:
    """One message per threshold the ``gate`` configuration misses on ``split``; empty when all are met."""
    failures = []
    numbers = summary[gate][split]
    for option, limit in given.items():
        if limit is None:
            continue
        key, side = THRESHOLDS[option]
        value = numbers.get(key)
        flag = "--" + option.replace("_", "-")
        if value is None:
            failures.append(f"{flag} {limit}: {key} was not measured ({gate}, {split})")
        elif (side == "min" and value < limit) or (side == "max" and value > limit):
            relation = "<" if side == "min" else ">"
            failures.append(f"{flag} {limit}: {key} = {value:.4f} {relation} {limit} ({gate}, split {split})")
    return failures
