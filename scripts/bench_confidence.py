"""What the answerability model adds to answering a question, measured on its own.

    .venv/bin/python scripts/bench_confidence.py [--questions tests/data/dev_questions.jsonl] [--repeat 3]

About a minute on 2 cores. For every question of the set (warm: the index, the models and the
sentence embeddings are loaded first, by answering each question once), it times, in the same run:

- ``ask``: the whole warm answer (retrieval, scoring, answering, verifying, assessing);
- ``assess``: :func:`qa.confidence.assess` alone on the same scored candidates (the features, the
  name check against the corpus, the model), which is what the confidence adds to an extractive
  answer (the candidates are scored for the answer anyway).

Prints p50/p95 in milliseconds and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def main() -> int:
    from qa.confidence import assess
    from qa.eval.metrics import percentile
    from qa.eval.questions import load_questions
    from qa.followup import resolve
    from qa.pipeline import Pipeline

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, default=ROOT / "tests" / "data" / "dev_questions.jsonl")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pipeline = Pipeline()
    questions = load_questions(args.questions)
    answerer = pipeline.answerer("extractive")
    for q in questions:  # warm up: models, index, sentence embeddings
        pipeline.ask(q.question, q.history)
    asked: list[float] = []
    assessed: list[float] = []
    for _ in range(args.repeat):
        for q in questions:
            started = time.perf_counter()
            pipeline.ask(q.question, q.history)
            asked.append(time.perf_counter() - started)
            resolved = resolve(q.question, q.history)
            passages = pipeline.retrieve(resolved.query)
            candidates = answerer.candidates(resolved, passages, pipeline.index)  # type: ignore[attr-defined]
            started = time.perf_counter()
            assess(resolved, candidates, passages, pipeline.index)
            assessed.append(time.perf_counter() - started)
    for name, values in (("ask", asked), ("assess", assessed)):
        print(
            f"{name:<7} p50 {1000 * statistics.median(values):7.2f} ms   "
            f"p95 {1000 * (percentile(values, 95) or 0.0):7.2f} ms   (n={len(values)})"
        )
    print(f"assess / ask (medians): {statistics.median(assessed) / statistics.median(asked):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
