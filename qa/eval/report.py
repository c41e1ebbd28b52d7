"""Write a run's report folder and print its one-screen summary.

OUT/results.jsonl    one row per (configuration, question): answer, citations, every metric;
                     no row of a held-out question (see below)
OUT/summary.json     every metric per configuration and split, the configurations, the command
OUT/report.md        the same as tables (values with their ratio to the baseline), per split
OUT/comparison.png   the configurations side by side, one panel per split
OUT/reliability.png  the reliability diagram: share of answers right against their stated
                     confidence, one panel per split, one line per configuration that states one

Held-out questions (split ``heldout``) appear only in aggregates: their split's metrics, never
their answers, nor a breakdown by question type (with one or two questions a type, that would tell
which ones failed). A report folder is meant to be committed and read while tuning; what is read
while tuning is no longer held out.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.settings import PROJECT_ROOT
from qa.eval.runner import RunResult
from qa.eval.summary import BY_KEY, METRICS, Metric, by_type, ratio

PLOTTED = (
    "recall@5",
    "mrr",
    "answer_accuracy",
    "refusal_accuracy",
    "false_refusal_rate",
    "citation_recall",
    "citation_precision",
)
SCREEN = (
    ("R@5", "recall@5"),
    ("MRR", "mrr"),
    ("Acc", "answer_accuracy"),
    ("Refuse", "refusal_accuracy"),
    ("FalseRef", "false_refusal_rate"),
    ("CitRec", "citation_recall"),
    ("CitPrec", "citation_precision"),
    ("NoCite", "uncited_share"),
    ("Fallbk", "fallback_rate"),
    ("p50ms", "latency_p50_ms"),
    ("p95ms", "latency_p95_ms"),
)
BASELINE = "baseline"
HELDOUT = "heldout"  # a split reported only as aggregates
SPLIT_NOTES = {"dev": " (what the project was tuned on)", HELDOUT: " (not used for tuning)"}
EVAL_DOCS = PROJECT_ROOT / "docs" / "eval"
METRICS_DOC = EVAL_DOCS / "METRICS.md"


def fmt(value: Any, metric: Metric | None = None) -> str:
    """A number as shown in tables: shares with 3 decimals, milliseconds and lengths whole; ``—`` for none.

    >>> fmt(0.82345), fmt(None), fmt(123.44, BY_KEY["latency_p50_ms"])
    ('0.823', '—', '123')
    """
    if value is None:
        return "—"
    if metric is not None and metric.kind in ("ms", "chars"):
        return f"{value:,.0f}"
    return f"{value:.3f}"


def shown_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows a report may show one by one: every split's but the held-out one's."""
    return [r for r in rows if r["split"] != HELDOUT]


def judge_validation(name: str, root: Path = EVAL_DOCS) -> tuple[Path, dict[str, Any]] | None:
    """The committed validation report (``judge.md`` and its ``judge.json``) of the judge called
    ``name``, the newest when there are several; ``None`` when it has none."""
    found = []
    for path in root.glob("**/judge.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("judge", {}).get("name") == name and path.with_suffix(".md").is_file():
            found.append((str(data.get("created", "")), path))
    if not found:
        return None
    path = max(found)[1]
    return path.with_suffix(".md"), json.loads(path.read_text(encoding="utf-8"))


def build_summary(
    result: RunResult,
    summary: dict[str, dict[str, dict[str, Any]]],
    *,
    command: str,
    questions_path: Path,
    gate: dict[str, Any],
    failures: Sequence[str],
) -> dict[str, Any]:
    """What ``summary.json`` holds."""
    rows = result.rows
    first = result.configurations[0]["name"] if result.configurations else None
    splits: dict[str, int] = {}
    for row in rows:
        if row["config"] == first:
            splits[row["split"]] = splits.get(row["split"], 0) + 1
    return {
        "command": command,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": result.seconds,
        "cpu_count": os.cpu_count(),
        "torch_threads": result.threads,
        "questions": {
            "path": str(questions_path),
            "sha256": hashlib.sha256(questions_path.read_bytes()).hexdigest(),
            "n": sum(splits.values()),
            "splits": splits,
        },
        "judge": result.judge,
        "embedding_model": result.embedding_model,
        "configurations": result.configurations,
        "gate": {**gate, "failures": list(failures)},
        "metrics": summary,
        # Per type over the splits shown one by one only (the held-out split's, and "all" minus
        # "dev", would tell which held-out questions failed).
        "by_type": {
            c["name"]: {
                split: by_type(rows, c["name"], split)
                for split in next(iter(summary.values()))
                if split not in (HELDOUT, "all")
            }
            for c in result.configurations
        },
    }


def write_report(out: Path, result: RunResult, data: dict[str, Any]) -> list[Path]:
    """Write every file of the report folder; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    with results.open("w", encoding="utf-8") as handle:
        for row in shown_rows(result.rows):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary = out / "summary.json"
    summary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plot = out / "comparison.png"
    write_plot(plot, data)
    written = [results, summary]
    diagram = out / "reliability.png"
    if write_reliability(diagram, data):
        written.append(diagram)
    else:
        diagram.unlink(missing_ok=True)
    report = out / "report.md"
    report.write_text(markdown(data, out), encoding="utf-8")
    return [*written, report, plot]


# --- report.md


def _link(target: Path, out: Path) -> str:
    return Path(os.path.relpath(target.resolve(), out.resolve())).as_posix()


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: bool = True) -> list[str]:
    """A Markdown table; with ``numeric`` every column but the first is right-aligned."""
    rule = "|---|" + ("---:|" if numeric else "---|") * (len(header) - 1)
    return ["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(row) + " |" for row in rows)]


def _cell(value: Any, base: Any, metric: Metric, with_ratio: bool, count: list[int] | None = None) -> str:
    """``0.814 (48/59, ×1.37)``: the value, its count where it has one, its ratio to the baseline."""
    r = ratio(value, base) if with_ratio else None
    notes = ([f"{count[0]}/{count[1]}"] if count and count[1] else []) + (
        [f"×{r:.2f}"] if r is not None else []
    )
    return fmt(value, metric) + (f" ({', '.join(notes)})" if notes else "")


def _judge_line(judge: dict[str, Any], out: Path) -> str:
    """Which judge scored the citations, and how far it agrees with the hand labels."""
    asked = judge.get("requested")
    line = (
        f"- Citation recall and precision judged by: `{judge['name']}`"
        + (f" (`--judge {asked}`)" if asked and asked != judge["name"] else "")
        + f", supported at a score ≥ {judge['threshold']}"
    )
    validation = judge_validation(judge["name"])
    if validation is None:
        return line + " (no validation report of this judge in docs/eval)"
    page, report = validation
    kappas = ", ".join(
        f"{split} {result['kappa']:.2f}"
        for split, result in report.get("splits", {}).items()
        if result.get("kappa") is not None
    )
    return line + f"; its agreement with hand labels (kappa {kappas}): [judge.md]({_link(page, out)})"


def _knobs(config: dict[str, Any]) -> str:
    s = config["settings"]
    if config["kind"] == "baseline":
        return f"recursive {s['chunk_size']}/{s['chunk_overlap']} chunks, dense top-{s['top_k']}"
    knobs = (
        f"{s['retrieval_mode']} retrieval, top-{s['top_k']}, "
        f"{s['chunk_size']}/{s['chunk_overlap']} chunks, "
        f"refusal threshold {s['refusal_threshold']}"
    )
    if s.get("answerer", "extractive") != "extractive":
        knobs += f", {s['answerer']} answerer ({s['llm']}, {s['llm_passages']} passages)"
    if config.get("verifier"):
        knobs += f"; sentences verified by the `{config['verifier']}` judge"
    return knobs


def markdown(data: dict[str, Any], out: Path) -> str:
    """``report.md``: the command, the configurations, a table per split, accuracy per question type."""
    metrics = data["metrics"]
    names = [c["name"] for c in data["configurations"]]
    splits = list(next(iter(metrics.values())))
    questions = data["questions"]
    split_counts = ", ".join(f"{s} {n}" for s, n in questions["splits"].items())
    scorer = str(data["judge"]["name"]).split(":")[0]
    self_judged = [c["name"] for c in data["configurations"] if c.get("verifier") == scorer]
    # Only an answerer other than the extractive one can fall back to it.
    can_fall_back = any(
        c["kind"] == "pipeline" and c["settings"].get("answerer", "extractive") != "extractive"
        for c in data["configurations"]
    )
    lines = [
        "# Evaluation report",
        "",
        "Generated by this command, run from the project root:",
        "",
        f"    {data['command']}",
        "",
        f"- Questions: `{questions['path']}` ({questions['n']} questions: {split_counts}; "
        f"sha256 `{questions['sha256'][:12]}`)",
        _judge_line(data["judge"], out),
        f"- Embedding model: `{data['embedding_model']}`",
        f"- Run: {data['created']}, {data['cpu_count']} CPU cores "
        f"({data['torch_threads']} torch thread{'s' if data['torch_threads'] != 1 else ''}), "
        f"{data['seconds']:.0f} s in all",
        f"- Metric definitions and formulas: [METRICS.md]({_link(METRICS_DOC, out)})",
    ]
    gate = data["gate"]
    if gate["thresholds"]:
        shown = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in gate["thresholds"].items())
        verdict = "not met: " + "; ".join(gate["failures"]) if gate["failures"] else "all met"
        lines.append(
            f"- Thresholds on `{gate['configuration']}`, split `{gate['split']}`: {shown} ({verdict})"
        )
    lines += ["", "## Configurations", ""]
    config_rows = [[f"`{c['name']}`", c["description"], _knobs(c)] for c in data["configurations"]]
    lines += _table(["Name", "What it is", "Knobs"], config_rows, numeric=False)
    with_ratio = BASELINE in names
    lines += [""]
    if with_ratio:
        lines += [
            "Cells show the value and, in brackets, its count where it has one and its ratio to the "
            "baseline (higher is better except where marked ↓).",
            "",
        ]
    for split in splits:
        first = metrics[names[0]][split]
        title = "All questions" if split == "all" else f"Split `{split}`" + SPLIT_NOTES.get(split, "")
        lines += [
            f"## {title}",
            "",
            f"{first['n_questions']} questions: {first['n_answerable']} answerable, "
            f"{first['n_unanswerable']} unanswerable; "
            f"{first['n_with_gold']} with gold evidence for retrieval.",
            "",
        ]
        rows = []
        for metric in METRICS:
            if metric.key == "fallback_rate" and not can_fall_back:
                continue
            label = metric.label + (" ↓" if metric.better == "lower" else "")
            base = metrics[BASELINE][split].get(metric.key) if with_ratio else None
            cells = [
                _cell(
                    metrics[n][split].get(metric.key),
                    base,
                    metric,
                    with_ratio and n != BASELINE and metric.better != "neither",
                    metrics[n][split].get("counts", {}).get(metric.key),
                )
                for n in names
            ]
            rows.append([label, *cells])
        lines += _table(["Metric", *names], rows)
        lines += [""]
    lines += [
        "## By question type",
        "",
        "Answer accuracy (refusal accuracy for the `unanswerable_*` types), per split; "
        "not for the held-out split, whose types hold one or two questions each.",
        "",
    ]
    for split in data["by_type"][names[0]]:
        types = data["by_type"][names[0]][split]
        rows = []
        for kind, first in types.items():
            cells = []
            for n in names:
                entry = data["by_type"][n][split].get(kind, {})
                value = entry.get("answer_accuracy")
                cells.append(fmt(value if value is not None else entry.get("refusal_accuracy")))
            rows.append([f"`{kind or '(none)'}`", str(first["n"]), *cells])
        lines += [f"### `{split}`", ""] + _table(["Type", "n", *names], rows) + [""]
    lines += _calibration(data)
    lines += [
        "## Plot",
        "",
        "![Configurations compared, one panel per split](comparison.png)",
        "",
        "## Reading the numbers",
        "",
        "- The `heldout` split was not used to tune anything (answerer, abstention threshold or judge); "
        "compare it with `dev` to see how much tuning flattered the development numbers.",
        "- The baseline answers with a whole 1,000-character chunk and cites it: its citations support its "
        "sentence by construction, and its answer accuracy gains from the length of the text it returns "
        "(see the mean answer length). It never refuses, so its refusal accuracy is 0 and ratios against it "
        "are not defined there.",
        (
            f"- The citations were scored by the same judge (`{scorer}`) that the pipeline of "
            + ", ".join(f"`{n}`" for n in self_judged)
            + " verified its own sentences with, so there the citation figures are partly a "
            "self-consistency check; how far the judge agrees with a human is in its judge.md."
            if self_judged
            else f"- The citations were scored by the `{scorer}` judge, which no configuration here used to "
            "verify its own sentences; how far it agrees with a human is in its judge.md."
        ),
        "- Citation recall and precision measure quoting, not answering: an extractive sentence is a "
        "verbatim quote, which supports itself whether or not it answers the question (a wrong answer "
        "usually has citation recall 1.0). Whether answers are right is answer accuracy; whether an "
        "answer knows how likely it is to be right is the calibration section.",
        "- An answer that fell back to the extractive one (the LLM failed, or its judge supported too "
        "little of what it wrote) counts as that configuration's answer in every metric, latency "
        "included.",
        "- Retrieval recall favours long chunks: a 1,000-character baseline chunk contains a gold quote more "
        "often than a 600-character one, so compare retrieval between configurations with the same chunks.",
        "- Latency is the wall time of answering one question on this machine after the model and index are "
        "loaded; compare configurations within a run, not across machines. The project's pipeline caches "
        "sentence embeddings, so its first questions (cold cache) are the slow ones and set the p95.",
        "",
        "Per-question rows (answers, citations, judgements, every metric) of every split but "
        "`heldout`: `results.jsonl`; all numbers: `summary.json`.",
        "",
    ]
    return "\n".join(lines)


def _calibration(data: dict[str, Any]) -> list[str]:
    """The reliability table of each configuration that states a confidence, per split."""
    stated = {
        name: per_split
        for name, per_split in data["metrics"].items()
        if any(v.get("reliability") for v in per_split.values())
    }
    if not stated:
        return []
    lines = [
        "## Calibration",
        "",
        "Each answer states the probability that it is right (`Answer.confidence`, from the learned "
        "answerability model). Per bin of stated confidence: how many answers, their mean confidence "
        "and the share that were right; ECE is the weighted mean gap (formula in METRICS.md). "
        "Refusals state nothing to be right about and are left out.",
        "",
        "![Reliability diagram](reliability.png)",
        "",
    ]
    for name, per_split in stated.items():
        for split, numbers in per_split.items():
            bins = [b for b in numbers.get("reliability") or [] if b["n"]]
            if not bins:
                continue
            lines += [f"### `{name}`, split `{split}`: ECE {fmt(numbers.get('ece'))}", ""]
            lines += _table(
                ["Confidence", "Answers", "Mean confidence", "Share right"],
                [
                    [f"{b['low']:.1f}–{b['high']:.1f}", str(b["n"]), fmt(b["confidence"]), fmt(b["accuracy"])]
                    for b in bins
                ],
            )
            lines += [""]
    return lines


# --- the plot


def write_reliability(path: Path, data: dict[str, Any]) -> bool:
    """The reliability diagram; ``False`` (nothing written) when no configuration states a confidence."""
    metrics = {
        name: per_split
        for name, per_split in data["metrics"].items()
        if any(v.get("reliability") for v in per_split.values())
    }
    if not metrics:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = list(next(iter(metrics.values())))
    figure, axes = plt.subplots(1, len(splits), figsize=(4.2 * len(splits), 4.4), squeeze=False)
    for axis, split in zip(axes[0], splits, strict=True):
        axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
        for name, per_split in metrics.items():
            bins = [b for b in per_split[split].get("reliability") or [] if b["n"]]
            if not bins:
                continue
            ece = per_split[split].get("ece")
            axis.plot(
                [b["confidence"] for b in bins],
                [b["accuracy"] for b in bins],
                marker="o",
                label=f"{name} (ECE {ece:.3f})" if ece is not None else name,
            )
            for b in bins:
                axis.annotate(
                    str(b["n"]),
                    (b["confidence"], b["accuracy"]),
                    fontsize=7,
                    alpha=0.7,
                    textcoords="offset points",
                    xytext=(3, -9),
                )
        axis.set_title(split, fontsize=10)
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1.02)
        axis.set_xlabel("stated confidence", fontsize=9)
        axis.set_ylabel("share of answers right", fontsize=9)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="upper left")
    figure.suptitle(
        "Reliability: is an answer that says p right p of the time? (points: answers per bin)", fontsize=10
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write_plot(path: Path, data: dict[str, Any]) -> None:
    """Grouped bars: one group per metric, one bar per configuration, one panel per split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = data["metrics"]
    names = list(metrics)
    splits = [s for s in next(iter(metrics.values())) if s != "all"] or ["all"]
    figure, axes = plt.subplots(len(splits), 1, figsize=(11, 3.6 * len(splits)), squeeze=False)
    width = 0.8 / max(1, len(names))
    for axis, split in zip(axes[:, 0], splits, strict=True):
        for i, name in enumerate(names):
            values = [metrics[name][split].get(key) or 0.0 for key in PLOTTED]
            positions = [x + (i - (len(names) - 1) / 2) * width for x in range(len(PLOTTED))]
            axis.bar(positions, values, width, label=name)
        first = metrics[names[0]][split]
        axis.set_title(f"{split}: {first['n_questions']} questions", fontsize=10)
        axis.set_xticks(
            range(len(PLOTTED)),
            [
                BY_KEY[k].label.replace(" (", "\n(") + (" ↓" if BY_KEY[k].better == "lower" else "")
                for k in PLOTTED
            ],
            fontsize=8,
        )
        axis.set_ylim(0, 1.05)
        axis.grid(axis="y", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(
        handles, labels, ncol=len(names), fontsize=9, loc="upper center", bbox_to_anchor=(0.5, 0.955)
    )
    figure.suptitle(f"qa.eval: configurations compared (judge {data['judge']['name']})", fontsize=11)
    figure.tight_layout(rect=(0, 0, 1, 0.93))
    figure.savefig(path, dpi=110)
    plt.close(figure)


# --- the screen


def screen(data: dict[str, Any]) -> str:
    """The one-screen summary printed at the end of a run."""
    metrics = data["metrics"]
    width = max(len(n) for n in metrics) + 2
    header = f"{'split':<8}{'config':<{width}}" + "".join(f"{label:>9}" for label, _ in SCREEN)
    lines = [f"citations judged by {data['judge']['name']}", header, "-" * len(header)]
    for split in next(iter(metrics.values())):
        for name, per_split in metrics.items():
            numbers = per_split[split]
            lines.append(
                f"{split:<8}{name:<{width}}"
                + "".join(f"{fmt(numbers.get(k), BY_KEY[k]):>9}" for _, k in SCREEN)
            )
        lines.append("")
    return "\n".join(lines).rstrip()
