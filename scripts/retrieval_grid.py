"""Grid over the hybrid retrieval knobs, scored by recall@5 on the dev split only.

    .venv/bin/python scripts/retrieval_grid.py            # about 40 s on 2 cores; prints a table
    .venv/bin/python scripts/retrieval_grid.py --split all

This is how the defaults in ``core/settings.py`` (dense weight 0.7, BM25 weight 0.3, RRF constant
10, at most 3 passages per article) were chosen. Dense-only and BM25-only are printed first as the
baselines of the same run. Recall is the share of a question's gold quotes found in the first five
passages (``qa.eval.metrics.recall_at``), over answerable questions with gold quotes; follow-ups are
resolved against their history first, as ``Pipeline.ask`` does.
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

from core.settings import PROJECT_ROOT, Settings
from qa.eval.questions import load_questions
from qa.eval.runner import mean_recall_at
from qa.pipeline import Pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, default=PROJECT_ROOT / "tests/data/dev_questions.jsonl")
    parser.add_argument("--split", default="dev", choices=["dev", "heldout", "all"])
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    questions = load_questions(args.questions, args.split)
    pipeline = Pipeline(Settings.load())
    print(
        f"{sum(q.answerable and bool(q.quotes) for q in questions)} questions ({args.split} split), recall@5"
    )
    print(f"dense only  {mean_recall_at(pipeline, questions, 5, 'dense'):.3f}")
    print(f"bm25 only   {mean_recall_at(pipeline, questions, 5, 'bm25'):.3f}")
    print("dense_w  max_per_source  rrf_c  hybrid")
    retriever = pipeline.index.retriever
    for weight, per_source, c in itertools.product((0.5, 0.6, 0.7, 0.8), (2, 3, 5), (10, 60)):
        settings = pipeline.settings.model_copy(
            update={
                "dense_weight": weight,
                "bm25_weight": round(1 - weight, 2),
                "max_per_source": per_source,
                "rrf_c": c,
            }
        )
        retriever.settings = settings
        print(f"{weight:<8} {per_source:<15} {c:<6} {mean_recall_at(pipeline, questions, 5, 'hybrid'):.3f}")


if __name__ == "__main__":
    main()
