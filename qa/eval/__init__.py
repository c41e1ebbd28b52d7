"""Evaluation: how far to trust the answers, and whether a change made them better.

    python -m qa.eval run --questions tests/data/dev_questions.jsonl --out docs/eval/dev
    python -m qa.eval judge --pairs tests/data/support_pairs.jsonl --out docs/eval

``run`` asks every question of a question set (:mod:`qa.eval.questions`) of each configuration
compared (:mod:`qa.eval.configs`: the project's default, dense-only, BM25-only and a LangChain
tutorial baseline, :mod:`qa.eval.baseline`), scores retrieval, answers, citations and latency
(:mod:`qa.eval.metrics`, formulas in its docstring and in ``docs/eval/METRICS.md``), and writes a
report folder (:mod:`qa.eval.report`). Citations are judged by a pluggable support judge
(:mod:`qa.eval.judges`); ``judge`` checks that judge against hand-labelled pairs
(:mod:`qa.eval.judge_check`). On 2 CPU cores the project's 88 development questions take about
a minute and a half for the four configurations (see ``docs/eval/dev/report.md`` for the last run).

Importing this package loads no model.
"""
