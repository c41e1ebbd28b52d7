"""The data that flows out of the pipeline: passages, citations and answers.

Citations are data, not text: an answer's ``[n]`` markers are rendered from ``Citation.n``, and each
citation carries the exact span of its source file (``start``/``end`` character offsets) so that
``open(source).read()[start:end] == quote``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Passage(BaseModel):
    """A retrieved chunk of a source file, with the scores that ranked it."""

    id: str
    source: str = Field(description="File name under the seeds folder")
    title: str | None = None
    url: str | None = None
    text: str
    start: int
    end: int
    rank: int = Field(description="1-based position after fusion")
    score: float = Field(description="Fused (reciprocal rank) score; higher is better")
    dense_score: float | None = Field(default=None, description="Cosine similarity with the question")
    bm25_score: float | None = None


class Citation(BaseModel):
    """One ``[n]`` marker of an answer and the exact source span behind it."""

    n: int = Field(description="The number shown in the answer's [n] marker")
    source: str
    title: str | None = None
    url: str | None = None
    quote: str = Field(description="The exact supporting text: the source file's text[start:end]")
    start: int
    end: int
    score: float = Field(
        description="How well the quote supports the sentence citing it, 0..1, by the answer's judge. "
        "A verbatim quote supports itself: this says the words are there, not that they answer the question"
    )
    passage_id: str | None = None


class AnswerSentence(BaseModel):
    """One sentence of an answer with the numbers of the citations it carries."""

    text: str = Field(description="The sentence without its [n] markers")
    citations: list[int] = Field(default_factory=list)
    support: float = Field(default=0.0, description="The judge's score for the sentence and its quotes, 0..1")
    supported: bool = Field(
        default=True, description="Whether the support is at or above the judge's threshold"
    )


class Answer(BaseModel):
    """What ``qa.ask`` returns."""

    question: str
    text: str = Field(description="The answer with inline [n] markers")
    citations: list[Citation] = Field(default_factory=list)
    refused: bool = False
    confidence: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Probability that the sources answer the question as given, from the learned "
        "answerability model (calibrated on questions the project never tuned on; see docs/eval/squad2). "
        "For a refusal: the probability an answer would have been right",
    )
    unsure: bool = Field(
        default=False,
        description="An answer given although its confidence is below Settings.unsure_below: "
        "shown as 'Not sure: the sources may not answer this', with the closest passages",
    )
    grounding: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Mean judge score of the sentences shown; 0 for a refusal. Support, not correctness: "
        "a verbatim quote supports itself whether or not it answers the question",
    )
    sentences: list[AnswerSentence] = Field(default_factory=list)
    dropped: list[AnswerSentence] = Field(
        default_factory=list, description="Sentences the answerer wrote that the judge did not support"
    )
    judge: str | None = Field(default=None, description="The support judge that scored the sentences")
    notice: str | None = Field(
        default=None, description="Why the answer is not what was asked for (an LLM failure, a fallback)"
    )
    fallback_from: str | None = Field(
        default=None, description="The answerer whose answer was replaced by this (extractive) one"
    )
    passages: list[Passage] = Field(default_factory=list, description="What retrieval returned")
    resolved_question: str | None = Field(default=None, description="The question after follow-up resolution")
    answerer: str = "extractive"
    index_generation: str | None = Field(
        default=None,
        description="The index generation the answer was read from: its citations' offsets are into "
        "the document texts of that generation",
    )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        return self.model_dump(mode="json")

    def citation(self, n: int) -> Citation:
        """The citation shown as ``[n]``."""
        for citation in self.citations:
            if citation.n == n:
                return citation
        raise KeyError(n)


class TokenEvent(BaseModel):
    """Text as the answerer writes it (an LLM's tokens, or a quoted sentence), before verification."""

    type: Literal["token"] = "token"
    text: str


class SentenceEvent(BaseModel):
    """A sentence finished and verified: its final ``[n]`` markers and citations."""

    type: Literal["sentence"] = "sentence"
    sentence: AnswerSentence
    citations: list[Citation] = Field(default_factory=list, description="The citations it added")
    kept: bool = Field(description="False when the policy dropped it as unsupported")


class NoticeEvent(BaseModel):
    """Something the reader should know mid-stream; ``restart``: discard what was streamed so far."""

    type: Literal["notice"] = "notice"
    message: str
    restart: bool = False


class AnswerEvent(BaseModel):
    """The last event of a stream: the whole, verified answer."""

    type: Literal["answer"] = "answer"
    answer: Answer


StreamEvent = TokenEvent | SentenceEvent | NoticeEvent | AnswerEvent
