"""End to end: ``python -m qa.eval run`` on a three-question set (two answerable, one not) against
the real index of the seeds, as a user would run it; and its exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.eval.__main__ import main
from qa.settings import PROJECT_ROOT, Settings
from tests.conftest import DATA

SMALL = DATA / "eval_small.jsonl"
CONFIGS = ["default", "dense", "bm25", "baseline"]


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
        seeds_settings, "--out", str(out), "--compare", ",".join(CONFIGS), "--min-answer-accuracy", "0.5"
    )
    assert result.returncode == 0, result.stderr[-3000:]

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["config"], r["id"]) for r in rows] == [(c, q) for c in CONFIGS for q in ("e1", "e2", "e3")]
    by_key = {(r["config"], r["id"]): r for r in rows}
    first = by_key["default", "e1"]
    assert first["metrics"]["answer_correct"] is True and "[1]" in first["answer"]
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
    assert data["configurations"][1]["settings"]["retrieval_mode"] == "dense"
    assert data["gate"]["failures"] == []

    report = (out / "report.md").read_text(encoding="utf-8")
    assert f"--questions {SMALL}" in report and "## Split `heldout`" in report and "(×" in report
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
