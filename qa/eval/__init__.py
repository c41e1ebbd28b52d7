"""Evaluation: how far to trust the answers, and whether a change made them better.

    python -m qa.eval run --questions tests/data/dev_questions.jsonl --out docs/eval/dev --judge overlap
    python -m qa.eval run --questions tests/data/dev_questions.jsonl --compare default,llm,baseline \\
        --judge llm --out docs/eval/llm
    python -m qa.eval judge --judge llm --out docs/eval/llm-judge

``run`` asks every question of a question set (:mod:`qa.eval.questions`) of each configuration
compared (:mod:`qa.eval.configs`: the project's default, dense-only, BM25-only, the LLM answerer
and a LangChain tutorial baseline, :mod:`qa.eval.baseline`), scores retrieval, answers, citations,
fallbacks and latency (:mod:`qa.eval.metrics`, formulas in its docstring and in
``docs/eval/METRICS.md``), and writes a report folder (:mod:`qa.eval.report`; held-out questions
only as aggregates). Citations are judged by a pluggable support judge (:mod:`qa.eval.judges`;
by default the strongest available, the LLM judge when the ``llm`` extra is installed); ``judge``
checks a judge against hand-labelled pairs (:mod:`qa.eval.judge_check`). On 2 CPU cores the
project's 88 development questions take about a minute and a half for the four fast
configurations with the overlap judge (``docs/eval/dev/report.md``), and about an hour with the
LLM configuration and the LLM judge (the command is in ``docs/eval/README.md``).

Importing this package loads no model.
"""
