"""The answerer seam and the step that turns a draft into a cited, verified :class:`Answer`.

An :class:`Answerer` drafts sentences, each pointing at the exact source spans that back it. It
never writes ``[n]`` markers itself: :func:`finalize` numbers the cited spans in order of first
use, checks every sentence against its quotes with the support judge, and renders the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from qa.schema import Answer, AnswerSentence, Citation, Passage
from qa.verify import SupportJudge, sentence_support

if TYPE_CHECKING:
    from index.metadata import DocumentMetadata
    from qa.followup import Resolved
    from qa.settings import Settings

REFUSAL = "The sources do not say."


@dataclass(frozen=True)
class Span:
    """An exact span of a source file: ``text[start:end]``."""

    source: str
    start: int
    end: int


@dataclass
class DraftSentence:
    text: str
    spans: list[Span]


@dataclass
class Draft:
    sentences: list[DraftSentence] = field(default_factory=list)
    refused: bool = False
    reason: str = ""  # why it refused, shown after the refusal text


class Library(Protocol):
    """What answerers may read besides the passages: the documents and an embedder."""

    settings: Settings

    def text(self, source: str) -> str: ...

    def metadata(self, source: str) -> DocumentMetadata: ...

    def sources(self) -> list[str]: ...

    def embed(self, texts: list[str]) -> list[list[float]]: ...

    def idf(self, term: str) -> float: ...

    def mentions(self, word: str) -> bool: ...


class Answerer(Protocol):
    """Drafts an answer from retrieved passages."""

    name: str

    def draft(self, question: Resolved, passages: list[Passage], library: Library) -> Draft: ...


def render_sentence(sentence: AnswerSentence) -> str:
    """The sentence with its markers before the final full stop.

    >>> render_sentence(AnswerSentence(text="It was 12,000.", citations=[1, 2]))
    'It was 12,000 [1][2].'
    """
    markers = "".join(f"[{n}]" for n in sentence.citations)
    text = sentence.text
    if not markers:
        return text
    if text[-1:] in ".!?":
        return f"{text[:-1]} {markers}{text[-1]}"
    return f"{text} {markers}"


def finalize(
    question: str,
    draft: Draft,
    passages: Sequence[Passage],
    library: Library,
    judge: SupportJudge,
    *,
    answerer: str,
    resolved_question: str | None = None,
) -> Answer:
    """Number the citations, verify every sentence and render ``text`` with ``[n]`` markers."""
    if draft.refused or not draft.sentences:
        text = REFUSAL + (f" {draft.reason}" if draft.reason else "")
        return Answer(
            question=question,
            text=text,
            refused=True,
            passages=list(passages),
            resolved_question=resolved_question,
            answerer=answerer,
        )
    numbers: dict[Span, int] = {}
    citations: list[Citation] = []
    sentences: list[AnswerSentence] = []
    for drafted in draft.sentences:
        quotes = [library.text(span.source)[span.start : span.end] for span in drafted.spans]
        support, alone = sentence_support(judge, drafted.text, quotes)
        markers = []
        for span, quote, score in zip(drafted.spans, quotes, alone, strict=True):
            if span not in numbers:
                numbers[span] = len(numbers) + 1
                meta = library.metadata(span.source)
                holder = next(
                    (
                        p
                        for p in passages
                        if p.source == span.source and p.start <= span.start and span.end <= p.end
                    ),
                    None,
                )
                citations.append(
                    Citation(
                        n=numbers[span],
                        source=span.source,
                        title=meta.title,
                        url=meta.url,
                        quote=quote,
                        start=span.start,
                        end=span.end,
                        score=score,
                        passage_id=holder.id if holder else None,
                    )
                )
            markers.append(numbers[span])
        sentences.append(AnswerSentence(text=drafted.text, citations=markers, support=support))
    text = " ".join(render_sentence(s) for s in sentences)
    grounding = sum(s.support for s in sentences) / len(sentences)
    return Answer(
        question=question,
        text=text,
        citations=citations,
        refused=False,
        grounding=round(grounding, 4),
        sentences=sentences,
        passages=list(passages),
        resolved_question=resolved_question,
        answerer=answerer,
    )
