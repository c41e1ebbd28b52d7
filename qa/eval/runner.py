"""Run a question set through each configuration and score every answer.

One row per (configuration, question).

A row (what ``results.jsonl`` holds)::

    {"config": "default", "id": "q001", "split": "dev", "type": "who", "answerable": true,
     "question": ..., "history": [...], "resolved_question": null,
     "answer": "Ukrainian intelligence places the number at 12,000 [1].", "refused": false,
     "answerer": "extractive", "fallback_from": null, "notice": null,   # "llm" and why, on a fallback
     "citations": [{"n": 1, "source": ..., "start": ..., "end": ..., "quote": ...}],
     "sentences": [{"text": ..., "citations": [1], "supported": true, "precise": [true], "alone": [1.0]}],
     "dropped": [],   # sentences the pipeline's own judge dropped as unsupported
     "retrieved": [{"rank": 1, "source": ..., "start": ..., "end": ..., "gold": [0]}],   # top 10
     "metrics": {"recall@1": 1.0, ..., "mrr": 1.0, "answer_correct": true, "refusal_correct": null,
                 "false_refusal": false, "citation_recall": 1.0, "citation_precision": 1.0,
                 "uncited_share": 0.0, "fallback": false, "latency_s": 0.21, "answer_chars": 55}}

Latency is the wall time of ``ask`` alone; the index and model are loaded, and one query run,
before the clock starts. Retrieval is scored on a separate top-10 retrieval of the question as the
pipeline resolved it (follow-ups include their context).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import QAError
from core.settings import Settings
from qa.eval import metrics
from qa.eval.configs import Configuration, System, describe, open_system
from qa.eval.questions import EvalQuestion
from qa.schema import Answer
from qa.verify import SupportJudge

RETRIEVAL_DEPTH = max(metrics.K_VALUES)
Progress = Callable[[str, int], None]  # (configuration name, questions done in it)


class EvalRunError(QAError):
    """A configuration failed on a question."""


@dataclass
class RunResult:
    rows: list[dict[str, Any]]
    configurations: list[dict[str, Any]]  # as recorded by configs.describe
    judge: dict[str, Any]
    embedding_model: str
    seconds: float
    threads: int


def mean_recall_at(
    pipeline: Any, questions: Sequence[EvalQuestion], k: int, mode: str | None = None
) -> float:
    """Mean recall@k of the gold quotes over the answerable ``questions`` that have them, each
    retrieved as ``Pipeline.ask`` would (follow-ups resolved against their history)."""
    from qa.followup import resolve

    scored = [q for q in questions if q.answerable and q.quotes]
    total = 0.0
    for question in scored:
        query = resolve(question.question, question.history).query
        passages = pipeline.retrieve(query, top_k=k, mode=mode)
        hits = metrics.gold_hits([(p.source, p.text) for p in passages], question.quotes, question.sources)
        total += metrics.recall_at(hits, len(question.quotes), k)
    return total / len(scored) if scored else 0.0


def score(
    question: EvalQuestion, answer: Answer, retrieved: Sequence[Any], judge: SupportJudge, latency: float
) -> dict[str, Any]:
    """The row for one answered question (see the module docstring); ``retrieved`` are Passages."""
    hits = metrics.gold_hits([(p.source, p.text) for p in retrieved], question.quotes, question.sources)
    n_gold = len(question.quotes) or len(question.sources)
    quotes = {c.n: c.quote for c in answer.citations}
    judgements = [
        metrics.judge_sentence(judge, s.text, s.citations, [quotes.get(n, "") for n in s.citations])
        for s in answer.sentences
    ]
    ground = metrics.grounding(judgements)
    row_metrics: dict[str, Any] = {}
    for k in metrics.K_VALUES:
        row_metrics[f"recall@{k}"] = metrics.recall_at(hits, n_gold, k) if question.has_gold else None
    row_metrics["mrr"] = metrics.reciprocal_rank(hits) if question.has_gold else None
    correct = (
        metrics.answer_correct(answer.text, answer.refused, question.expected, question.expected_all)
        if question.answerable
        else None
    )
    row_metrics.update(
        answer_correct=correct,
        refusal_correct=answer.refused if not question.answerable else None,
        false_refusal=answer.refused if question.answerable else None,
        citation_recall=ground.citation_recall,
        citation_precision=ground.citation_precision,
        uncited_share=ground.uncited_share,
        # The answer is the extractive one standing in for the configured answerer (an LLM that
        # failed, or whose sentences the pipeline's judge mostly did not support).
        fallback=answer.fallback_from is not None,
        # What the answer says of itself, and whether it was right (a given answer to an
        # unanswerable question never is): the calibration figures compare the two.
        confidence=answer.confidence if not answer.refused else None,
        right=None if answer.refused else bool(correct),
        unsure=answer.unsure,
        latency_s=round(latency, 4),
        answer_chars=len(answer.text) if not answer.refused else None,
    )
    return {
        "id": question.id,
        "split": question.split,
        "type": question.type,
        "answerable": question.answerable,
        "question": question.question,
        "history": [list(turn) for turn in question.history],
        "resolved_question": answer.resolved_question,
        "answer": answer.text,
        "refused": answer.refused,
        "answerer": answer.answerer,
        "fallback_from": answer.fallback_from,
        "notice": answer.notice,
        "citations": [
            c.model_dump(include={"n", "source", "start", "end", "quote"}) for c in answer.citations
        ],
        "sentences": [
            {
                "text": j.text,
                "citations": j.citations,
                "supported": j.supported,
                "precise": j.precise,
                "alone": j.alone,
            }
            for j in judgements
        ],
        "dropped": [s.text for s in answer.dropped],
        "retrieved": [
            {"rank": p.rank, "source": p.source, "start": p.start, "end": p.end, "gold": sorted(held)}
            for p, held in zip(retrieved, hits, strict=True)
        ],
        "metrics": row_metrics,
    }


# Settings that decide what an LLM judge is; a configuration that changes none of them judges its
# answers exactly as the evaluation's judge would.
LLM_JUDGE_FIELDS = (
    "llm",
    "judge_llm",
    "llm_judge_threshold",
    "llm_base_url",
    "llm_api_key",
    "llm_timeout",
    "llm_context",
    "llm_threads",
    "models_dir",
    "data_dir",
)


def share_llm_judge(system: System, settings: Settings, base: Settings, judge: SupportJudge) -> bool:
    """Let a pipeline verify its answers with the evaluation's own LLM judge when it would make
    the same one: its cache then answers the scoring of the same (claim, quote) pairs, which would
    otherwise be judged twice (and a second copy of the model loaded). Answer latency is unchanged:
    the pipeline still pays for every judgement first. The overlap judge is never shared, since its
    embedding cache would speed up answering. ``True`` when shared."""
    from qa.pipeline import Pipeline
    from qa.verify import LLMJudge

    if not isinstance(system, Pipeline) or not isinstance(judge, LLMJudge) or system._judge is not None:
        return False
    if any(getattr(settings, f) != getattr(base, f) for f in LLM_JUDGE_FIELDS):
        return False
    system._judges.setdefault("llm", judge)
    return system._judges["llm"] is judge


def evaluate(system: System, question: EvalQuestion, judge: SupportJudge) -> dict[str, Any]:
    """Ask one question, time it, retrieve its top 10 and score both."""
    started = time.perf_counter()
    answer = system.ask(question.question, list(question.history))
    latency = time.perf_counter() - started
    retrieved = system.retrieve(answer.resolved_question or question.question, top_k=RETRIEVAL_DEPTH)
    return score(question, answer, retrieved, judge, latency)


def run(
    questions: Sequence[EvalQuestion],
    configurations: Sequence[Configuration],
    base: Settings,
    *,
    judge_name: str,
    progress: Progress | None = None,
    embeddings: Any = None,
    threads: int | None = None,
) -> RunResult:
    """Every question through every configuration, configuration after configuration.

    ``threads`` sets torch's intra-op threads for the run: on a busy 2-core machine one thread
    embeds a short text ten times faster than two fighting over the cores.
    """
    from index.build import embedding_record
    from index.embed import embedder
    from qa.eval.judges import make_judge
    from qa.pipeline import Pipeline

    if threads:
        import torch

        torch.set_num_threads(threads)
    started = time.perf_counter()
    embeddings = embeddings or embedder(base)
    model_id = embedding_record(base).id
    # The judge gets its own embedding cache, so judging never speeds up a configuration's answers.
    judge = make_judge(judge_name, base, Pipeline(base, embeddings=embeddings).index.embed)
    rows: list[dict[str, Any]] = []
    recorded = []
    for config in configurations:
        system, settings = open_system(config, base, embeddings, model_id)
        share_llm_judge(system, settings, base, judge)
        system.retrieve("warm-up query", top_k=1)
        recorded.append(describe(config, settings, system))
        for done, question in enumerate(questions, start=1):
            try:
                row = evaluate(system, question, judge)
            except QAError as error:
                raise EvalRunError(
                    f"Configuration {config.name!r} failed on question {question.id}: {error}"
                ) from error
            rows.append({"config": config.name, **row})
            if progress:
                progress(config.name, done)
    return RunResult(
        rows=rows,
        configurations=recorded,
        judge={"name": judge.name, "threshold": judge.threshold, "requested": judge_name},
        embedding_model=model_id,
        threads=_torch_threads(),
        seconds=round(time.perf_counter() - started, 1),
    )


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())
