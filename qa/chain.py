"""The pipeline as LangChain parts, for composing it with other chains.

- :class:`PipelineRetriever`: the project's hybrid retrieval as a ``BaseRetriever``; each
  document's metadata holds its source, offsets and scores (fused, dense, BM25).
- :class:`AnswerRunnable`: the whole answering pipeline as a ``Runnable``. Its input is a
  question, or a dict with ``question`` and optionally ``history``, ``top_k``, ``answerer``;
  ``invoke`` returns the cited, verified :class:`~qa.schema.Answer`, ``batch`` a list of them, and
  ``stream`` the pipeline's events as they come (:data:`~qa.schema.StreamEvent`), the answer last.

    from qa.chain import AnswerRunnable, PipelineRetriever

    docs = PipelineRetriever(pipeline=pipeline, k=4).invoke("Who reported 12,000 troops?")
    answer = AnswerRunnable(pipeline).invoke({"question": "Who reported 12,000 troops?"})

The adapters depend on the pipeline, never the reverse.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import ConfigDict

from core.errors import InvalidQuestionError
from qa.schema import Answer, AnswerEvent, StreamEvent

if TYPE_CHECKING:
    from qa.pipeline import Pipeline

QuestionInput = str | dict[str, Any]
_OPTIONS = ("history", "top_k", "sources", "answerer", "mode")


class PipelineRetriever(BaseRetriever):
    """The pipeline's retrieval (hybrid by default) as a LangChain retriever."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    pipeline: Any  # qa.pipeline.Pipeline (Any: pydantic cannot validate it)
    k: int | None = None
    mode: str | None = None
    sources: list[str] | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        passages = self.pipeline.retrieve(query, top_k=self.k, sources=self.sources, mode=self.mode)
        return [
            Document(
                page_content=p.text,
                id=p.id,
                metadata={
                    "source": p.source,
                    "title": p.title,
                    "url": p.url,
                    "start": p.start,
                    "end": p.end,
                    "rank": p.rank,
                    "score": p.score,
                    "dense_score": p.dense_score,
                    "bm25_score": p.bm25_score,
                },
            )
            for p in passages
        ]


class AnswerRunnable(Runnable[QuestionInput, Answer]):
    """Question in, cited :class:`~qa.schema.Answer` out (see the module docstring)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    @staticmethod
    def _split(value: QuestionInput) -> tuple[str, dict[str, Any]]:
        if isinstance(value, str):
            return value, {}
        if isinstance(value, dict) and isinstance(value.get("question"), str):
            unknown = sorted(set(value) - {"question", *_OPTIONS})
            if unknown:
                raise InvalidQuestionError(
                    f"Unknown input keys {unknown}; known: question, {', '.join(_OPTIONS)}"
                )
            return value["question"], {k: value[k] for k in _OPTIONS if k in value}
        raise InvalidQuestionError('The input is a question, or a dict {"question": ..., "history": [...]}')

    def invoke(self, input: QuestionInput, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        question, options = self._split(input)
        return self.pipeline.ask(question, **options)

    def stream(  # type: ignore[override]
        self, input: QuestionInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[StreamEvent]:
        """The pipeline's events as they come; the last is the :class:`AnswerEvent`."""
        question, options = self._split(input)
        yield from self.pipeline.stream(question, **options)

    @staticmethod
    def answer_of(events: Iterator[StreamEvent]) -> Answer:
        """The answer at the end of a stream."""
        for event in events:
            if isinstance(event, AnswerEvent):
                return event.answer
        raise ValueError("the stream ended without an answer")
