#!/usr/bin/env bash
# The evaluation gate CI runs: both support judges against the hand-labelled pairs, and the
# project's default configuration (compared with dense-only, BM25-only and the LangChain baseline)
# on the whole development set. Thresholds sit just below the levels reached (docs/eval/), so a
# change that lowers any of them fails. Reports go to .eval/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
# The overlap judge (no LLM, ~40 s): the one the run gate below scores citations with.
.venv/bin/python -m qa.eval judge --judge overlap --out .eval --min-kappa 0.58 --min-heldout-kappa 0.33
# The LLM judge (the llm extra; about 2 minutes on 2 cores): the one `--judge auto` picks for the
# published reports and the pipeline uses to verify LLM answers. Measured (docs/eval/llm-judge):
# kappa 0.838 overall, 0.727 on the 22 held-out pairs (the target there: 0.7). One held-out pair
# judged the other way moves that kappa by about 0.09, so the gate allows one such flip.
.venv/bin/python -m qa.eval judge --judge llm --out .eval/llm-judge --min-kappa 0.80 --min-heldout-kappa 0.62
# The run gate keeps the fast overlap judge on purpose (`--judge auto` would pick the LLM): judging
# one configuration's 88 answers with the LLM takes about 15-20 minutes on 2 cores, so this run would
# go from a minute to over an hour, and these thresholds were set on overlap scores. The LLM
# configuration judged by the LLM takes 40-60 minutes: its command is in docs/eval/README.md.
# Measured (docs/eval/dev, all 88 questions, int8 ONNX embedder, lexical index of the catalog):
# answer accuracy 0.851, refusal accuracy 0.429, false refusals 0.013, citation recall 0.976 /
# precision 0.957, recall@5 0.771, MRR 0.689 (before a question sentence stopped being an answer and a
# timeline a rival figure: 0.838, citation recall 0.976, precision 0.950).
.venv/bin/python -m qa.eval run --questions tests/data/dev_questions.jsonl --out .eval/dev --judge overlap \
  --compare default,previous,baseline \
  --min-answer-accuracy 0.84 --min-refusal-accuracy 0.41 --max-false-refusal 0.03 \
  --min-citation-recall 0.96 --min-citation-precision 0.94 --min-recall-at-5 0.74 --min-mrr 0.66 --max-ece 0.12
# Follow-up detection on its labelled set (526 questions; under a second): stand-alone questions
# taken for follow-ups at most 2 %, follow-ups found at least 90 %.
.venv/bin/python scripts/followup_eval.py
# Questions nobody here wrote: the 3 held-out SQuAD 2.0 articles (the same 600 questions as
# docs/eval/squad2; about 3 minutes with the index build), calibrated for encyclopedia articles.
# Measured: refusal accuracy 0.464, false refusals 0.113, answer accuracy 0.706 (0.702 before the
# timeline and question-sentence fixes), ECE 0.081 (before the
# int8 ONNX embedder and the catalog's lexical index: 0.451, 0.103, 0.712, 0.075).
QA_CALIBRATION=squad2 .venv/bin/python -m qa.eval run --questions tests/data/squad2/questions.jsonl \
  --seeds tests/data/squad2/seeds --data .eval/squad2-data --split heldout --sample 600 --compare default \
  --judge overlap --out .eval/squad2 --gate-split heldout \
  --min-refusal-accuracy 0.42 --max-false-refusal 0.12 --min-answer-accuracy 0.69 --max-ece 0.10
