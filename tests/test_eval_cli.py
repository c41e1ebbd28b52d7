"""End to end: ``python -m qa.eval run`` on a three-question set (two answerable, one not; one
held out) against the real index of the seeds, as a user would run it; ``python -m qa.eval judge``;
and their exit codes. The ``llm`` tests run the real packaged LLM (the ``llm`` extra)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT, Settings
from qa.eval.__main__ import main
from qa.llm import local_available
from tests.conftest import DATA

SMALL = DATA / "eval_small.jsonl"
CONFIGS = ["default", "dense", "bm25", "baseline"]
SHOWN = ("e1", "e3")  # e2 is held out: in the aggregates only
needs_llm = pytest.mark.skipif(not local_available(), reason='needs the llm extra: pip install -e ".[llm]"')


def run_eval(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "QA_SEEDS_DIR": str(settings.seeds_dir),
        "QA_DATA_DIR": str(settings.data_dir),
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "qa.eval", "run", "--questions", str(SMALL), *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_run_writes_the_report_folder(seeds_settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run_eval(
        seeds_settings,
        "--out",
        str(out),
        "--compare",
        ",".join(CONFIGS),
        "--judge",
        "overlap",
        "--min-answer-accuracy",
        "0.5",
    )
    assert result.returncode == 0, result.stderr[-3000:]

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["config"], r["id"]) for r in rows] == [(c, q) for c in CONFIGS for q in SHOWN]
    by_key = {(r["config"], r["id"]): r for r in rows}
    first = by_key["default", "e1"]
    assert first["metrics"]["answer_correct"] is True and "[1]" in first["answer"]
    assert first["metrics"]["fallback"] is False and first["answerer"] == "extractive"
    assert first["citations"][0]["quote"] == "Ukrainian intelligence places the number at 12,000."
    assert first["metrics"]["recall@10"] == 1.0 and first["metrics"]["latency_s"] > 0
    unanswerable = by_key["default", "e3"]["metrics"]
    assert unanswerable["answer_correct"] is None and isinstance(unanswerable["refusal_correct"], bool)
    baseline = by_key["baseline", "e3"]  # the tutorial pipeline never refuses
    assert baseline["refused"] is False and baseline["metrics"]["refusal_correct"] is False
    assert [c["n"] for c in baseline["citations"]] == [1] and baseline["answer"].endswith("[1]")

    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert list(data["metrics"]) == CONFIGS
    assert list(data["metrics"]["default"]) == ["dev", "heldout", "all"]
    assert data["questions"]["splits"] == {"dev": 2, "heldout": 1}
    assert data["metrics"]["baseline"]["all"]["refusal_accuracy"] == 0.0
    assert data["metrics"]["default"]["all"]["fallback_rate"] == 0.0
    assert data["configurations"][1]["settings"]["retrieval_mode"] == "dense"
    assert data["configurations"][0]["verifier"] == "overlap"
    assert data["judge"] == {"name": "overlap", "threshold": 0.75, "requested": "overlap"}
    assert data["gate"]["failures"] == []
    # The held-out question is in its split's aggregates, and nowhere one by one.
    assert data["metrics"]["default"]["heldout"]["n_questions"] == 1
    assert list(data["by_type"]["default"]) == ["dev"]
    assert '"e2"' not in (out / "results.jsonl").read_text(encoding="utf-8")

    report = (out / "report.md").read_text(encoding="utf-8")
    assert f"--questions {SMALL}" in report and "## Split `heldout`" in report and "(×" in report
    assert "judged by: `overlap`" in report
    assert "Fell back to the extractive answer" not in report  # no configuration here can fall back
    assert "### `heldout`" not in report  # no per-type table of the held-out split
    assert (out / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "R@5" in result.stdout and "baseline" in result.stdout  # the summary table


@pytest.mark.slow
def test_a_missed_threshold_exits_1_and_says_which(seeds_settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "report"
    # The baseline never refuses, so its refusal accuracy (0) misses any positive minimum.
    result = run_eval(
        seeds_settings,
        "--out",
        str(out),
        "--compare",
        "default,baseline",
        "--gate",
        "baseline",
        "--judge",
        "overlap",
        "--min-refusal-accuracy",
        "0.5",
        "--min-answer-accuracy",
        "0.0",
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert "threshold not met: --min-refusal-accuracy 0.5: refusal_accuracy = 0.0000 < 0.5" in result.stderr
    assert "--min-answer-accuracy" not in result.stderr  # met, so not reported
    assert (out / "report.md").is_file()  # the report is written all the same
    gate = json.loads((out / "summary.json").read_text(encoding="utf-8"))["gate"]
    assert gate["configuration"] == "baseline" and len(gate["failures"]) == 1


def test_bad_input_exits_2_before_loading_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--questions", str(SMALL), "--out", str(tmp_path), "--compare", "default,nope"]) == 2
    assert "Unknown configuration(s) ['nope']" in capsys.readouterr().err
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a", "question": "Who?"}\n{"id": "b"}\n', encoding="utf-8")
    assert main(["run", "--questions", str(broken), "--out", str(tmp_path)]) == 2
    assert "broken.jsonl, line 2: question: Field required" in capsys.readouterr().err


def test_the_report_folder_holds_heldout_questions_as_aggregates_only(tmp_path: Path) -> None:
    from qa.eval import report, summary
    from qa.eval.runner import RunResult

    def row(qid: str, split: str, correct: bool) -> dict:
        measured = dict.fromkeys(("recall@1", "recall@3", "recall@5", "recall@10", "mrr", "refusal_correct"))
        measured.update(answer_correct=correct, false_refusal=False, fallback=False, latency_s=0.1)
        measured.update(citation_recall=1.0, citation_precision=1.0)
        common = {"config": "default", "type": "who", "answerable": True, "answer": f"answer to {qid}"}
        return {**common, "id": qid, "split": split, "metrics": measured}

    rows = [row("d1", "dev", True), row("h1", "heldout", False), row("h2", "heldout", True)]
    config = {"name": "default", "kind": "pipeline", "description": "", "verifier": "overlap"}
    config["settings"] = Settings(_env_file=None).model_dump(mode="json")  # type: ignore[call-arg]
    result = RunResult(rows, [config], {"name": "overlap", "threshold": 0.75}, "model", 1.0, 1)
    numbers = summary.summarise(rows, ["default"])
    data = report.build_summary(
        result, numbers, command="c", questions_path=SMALL, gate={"thresholds": {}}, failures=[]
    )
    report.write_report(tmp_path, result, data)

    written = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in written] == ["d1"]
    stored = json.loads((tmp_path / "summary.json").read_text())
    assert stored["metrics"]["default"]["heldout"]["counts"]["answer_accuracy"] == [1, 2]
    assert list(stored["by_type"]["default"]) == ["dev"]
    assert "h1" not in (tmp_path / "summary.json").read_text() + (tmp_path / "report.md").read_text()


def test_the_llm_configuration_needs_an_llm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_LLM", "ollama")  # names no model: no backend is configured
    assert main(["run", "--questions", str(SMALL), "--out", str(tmp_path), "--compare", "default,llm"]) == 2
    err = capsys.readouterr().err
    assert "Configuration 'llm' answers with an LLM, and QA_LLM='ollama' is not available here" in err
    assert main(["run", "--questions", str(SMALL), "--out", str(tmp_path), "--compare", "nope"]) == 2
    assert (
        "known: default, dense, bm25, baseline, previous, score-rule, torch\n" in capsys.readouterr().err
    )  # llm not listed


@pytest.mark.slow
def test_judge_gates_overall_and_heldout_kappa_and_lists_no_heldout_pair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [json.loads(line) for line in (DATA / "support_pairs.jsonl").read_text().splitlines()]
    picked = [p for p in lines if p["split"] == "dev"][:6] + [p for p in lines if p["split"] == "heldout"][:6]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in picked), encoding="utf-8")
    out = tmp_path / "judge"
    args = ["judge", "--judge", "overlap", "--pairs", str(pairs), "--out", str(out), "--min-kappa", "-1"]
    assert main(args) == 0
    assert main([*args, "--min-heldout-kappa", "1.01"]) == 1
    assert "threshold not met: --min-heldout-kappa 1.01: kappa = " in capsys.readouterr().err
    data = json.loads((out / "judge.json").read_text(encoding="utf-8"))
    assert data["splits"]["heldout"]["n"] == 6 and {p["split"] for p in data["pairs"]} == {"dev"}
    assert all(set(entry) <= {"supported", "dev"} for entry in data["kinds"].values())
    assert "`heldout`" in (out / "judge.md").read_text().split("## Per kind")[0]  # its agreement, once
    assert "`heldout`" not in (out / "judge.md").read_text().split("## Per kind")[1]
    assert main([*args, "--split", "dev", "--min-heldout-kappa", "0"]) == 1  # no held-out pair judged
    assert list(json.loads((out / "judge.json").read_text(encoding="utf-8"))["splits"]) == ["dev"]


@pytest.mark.slow
@pytest.mark.llm
@needs_llm
def test_the_llm_configuration_judged_by_the_llm(
    seeds_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The packaged model is assembled once, under the project's data folder, not the test's.
    monkeypatch.setenv("QA_MODELS_DIR", str(Settings().resolved_models_dir))
    out = tmp_path / "report"
    result = run_eval(seeds_settings, "--out", str(out), "--compare", "llm", "--split", "dev")
    assert result.returncode == 0, result.stderr[-3000:]

    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert data["judge"]["requested"] == "auto" and data["judge"]["name"].startswith("llm:")
    assert data["configurations"][0]["verifier"] == "llm"
    rows = {r["id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    first = rows["e1"]
    fell_back = first["fallback_from"] == "llm"
    assert first["metrics"]["fallback"] is fell_back and first["answerer"] == (
        "extractive" if fell_back else "llm"
    )
    assert first["metrics"]["answer_correct"] is True  # "Ukrainian intelligence", by either answerer
    assert first["citations"][0]["source"] == "001_8ecca554f728260b.txt"
    assert rows["e3"]["metrics"]["refusal_correct"] is not None


def test_the_report_shows_calibration_when_answers_state_a_confidence(tmp_path: Path) -> None:
    from qa.eval import report, summary
    from qa.eval.runner import RunResult

    def row(qid: str, confidence: float | None, right: bool | None) -> dict:
        measured = dict.fromkeys(("recall@1", "recall@3", "recall@5", "recall@10", "mrr", "refusal_correct"))
        measured.update(answer_correct=right, false_refusal=False, fallback=False, latency_s=0.1)
        measured.update(citation_recall=1.0, citation_precision=1.0, confidence=confidence, right=right)
        common = {"config": "default", "type": "who", "answerable": True, "answer": f"answer to {qid}"}
        return {**common, "id": qid, "split": "dev", "metrics": measured}

    # Two answers at 0.9 (one right), two at 0.15 (neither right), a refusal (no confidence).
    rows = [row("a", 0.9, True), row("b", 0.9, False), row("c", 0.15, False), row("d", 0.15, False)]
    rows.append(row("e", None, None))
    numbers = summary.summarise(rows, ["default"])
    # ECE = 2/4 * |0.9 - 0.5| + 2/4 * |0.15 - 0| = 0.275
    assert numbers["default"]["dev"]["ece"] == pytest.approx(0.275)
    bins = [b for b in numbers["default"]["dev"]["reliability"] if b["n"]]
    assert [(b["low"], b["n"], b["accuracy"]) for b in bins] == [(0.1, 2, 0.0), (0.9, 2, 0.5)]

    config = {"name": "default", "kind": "pipeline", "description": "", "verifier": "overlap"}
    config["settings"] = Settings(_env_file=None).model_dump(mode="json")  # type: ignore[call-arg]
    result = RunResult(rows, [config], {"name": "overlap", "threshold": 0.75}, "model", 1.0, 1)
    data = report.build_summary(
        result, numbers, command="c", questions_path=SMALL, gate={"thresholds": {}}, failures=[]
    )
    written = report.write_report(tmp_path, result, data)
    assert tmp_path / "reliability.png" in written
    assert (tmp_path / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (tmp_path / "report.md").read_text()
    assert "## Calibration" in text and "### `default`, split `dev`: ECE 0.275" in text
    assert "| 0.9–1.0 | 2 | 0.900 | 0.500 |" in text
