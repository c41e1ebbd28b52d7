"""The answerer seam and the step that turns drafted sentences into a cited, verified :class:`Answer`.

An :class:`Answerer` streams: it yields text as it writes it (``str``), each finished sentence as a
:class:`DraftSentence` pointing at the exact source spans that back it, or a :class:`Refusal`. It
never writes ``[n]`` markers itself: :class:`AnswerBuilder` numbers the cited spans in order of
first use, checks every sentence against its quotes with the support judge as the sentence
arrives, drops or marks the unsupported ones (``Settings.unsupported``) and renders the text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from qa.schema import Answer, AnswerSentence, Citation, Passage
from qa.verify import SupportJudge, sentence_support

if TYPE_CHECKING:
    from core.settings import Settings
    from index.metadata import DocumentMetadata
    from qa.followup import Resolved

REFUSAL = "The sources do not say."


@dataclass(frozen=True)
class Assessment:
    """What the answerability model thinks of the passages found for one question."""

    confidence: float  # probability that the (extractive) answer is right, 0..1
    features: dict[str, float] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()  # names or numbers of the question no document mentions


@dataclass(frozen=True)
class Described:
    """What a question about the documents themselves is compared with: each document's name, the
    vector of its description (row ``i`` of ``matrix``, a float32 array) and the description's terms."""

    sources: list[str]
    matrix: Any
    terms: list[frozenset[str]]


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
class Refusal:
    """The answerer declines: the passages do not answer the question."""

    reason: str = ""  # shown after the refusal text


Drafted = str | DraftSentence | Refusal  # what an answerer yields


@dataclass
class Draft:
    sentences: list[DraftSentence] = field(default_factory=list)
    refused: bool = False
    reason: str = ""  # why it refused, shown after the refusal text
    assessment: Assessment | None = None  # how likely the answer is to be right

    def stream(self) -> Iterator[Drafted]:
        """The draft as an answerer streams it: each sentence's text and the sentence (or the refusal)."""
        if self.refused or not self.sentences:
            yield Refusal(self.reason)
            return
        for sentence in self.sentences:
            yield sentence.text
            yield sentence


class Library(Protocol):
    """What answerers may read besides the passages: the documents and an embedder."""

    settings: Settings

    def text(self, source: str) -> str: ...

    def metadata(self, source: str) -> DocumentMetadata: ...

    def sources(self) -> list[str]: ...

    def embed(self, texts: list[str]) -> Sequence[Sequence[float]]: ...

    def idf(self, term: str) -> float: ...

    def mentions(self, word: str) -> bool: ...

    def described(self) -> Described:
        """Every document's name, description vector and description terms (:class:`Described`)."""
        ...


class Answerer(Protocol):
    """Writes an answer from retrieved passages, yielding as it goes (see the module docstring)."""

    name: str

    def stream(self, question: Resolved, passages: list[Passage], library: Library) -> Iterator[Drafted]: ...


@runtime_checkable
class Assessor(Protocol):
    """Says how likely an answer to ``question`` from ``passages`` is to be right. The pipeline asks
    it once the answerer has finished; an answerer that can tell (the extractive one: its own
    abstention rests on it) is its own assessor."""

    def assess(self, question: Resolved, passages: list[Passage], library: Library) -> Assessment: ...


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


class AnswerBuilder:
    """Turns drafted sentences, one at a time, into a verified :class:`Answer`.

    Each sentence is scored by ``judge`` against the text of the spans it cites (together, and
    each span alone for the citation's own score). A sentence below the judge's threshold is
    dropped (kept in ``Answer.dropped``) or kept and marked ``supported=False``, per ``policy``.
    ``grounding`` is the mean judge score of the sentences shown.
    """

    def __init__(
        self,
        question: str,
        passages: Sequence[Passage],
        library: Library,
        judge: SupportJudge,
        *,
        answerer: str,
        policy: Literal["drop", "mark"] = "drop",
        resolved_question: str | None = None,
    ) -> None:
        self.question, self.passages, self.library, self.judge = question, list(passages), library, judge
        self.answerer, self.policy, self.resolved_question = answerer, policy, resolved_question
        self.numbers: dict[Span, int] = {}
        self.citations: list[Citation] = []
        self.sentences: list[AnswerSentence] = []
        self.dropped: list[AnswerSentence] = []
        self.refusal: Refusal | None = None
        self.assessment: Assessment | None = None

    @property
    def judged(self) -> int:
        return len(self.sentences) + len(self.dropped)

    @property
    def supported_share(self) -> float:
        """The share of the drafted sentences that the judge supports (1.0 before any)."""
        if not self.judged:
            return 1.0
        return sum(s.supported for s in self.sentences) / self.judged

    def add(self, drafted: DraftSentence) -> tuple[AnswerSentence, list[Citation], bool]:
        """Verify one sentence: ``(the sentence, the citations it added, whether it is kept)``."""
        quotes = [self.library.text(span.source)[span.start : span.end] for span in drafted.spans]
        support, alone = sentence_support(self.judge, drafted.text, quotes)
        supported = bool(quotes) and support >= self.judge.threshold
        if not supported and self.policy == "drop":
            sentence = AnswerSentence(text=drafted.text, citations=[], support=support, supported=False)
            self.dropped.append(sentence)
            return sentence, [], False
        markers: list[int] = []
        added: list[Citation] = []
        for span, quote, score in zip(drafted.spans, quotes, alone, strict=True):
            if span not in self.numbers:
                self.numbers[span] = len(self.numbers) + 1
                added.append(self._citation(span, quote, score))
            if self.numbers[span] not in markers:
                markers.append(self.numbers[span])
        self.citations.extend(added)
        sentence = AnswerSentence(text=drafted.text, citations=markers, support=support, supported=supported)
        self.sentences.append(sentence)
        return sentence, added, True

    def _citation(self, span: Span, quote: str, score: float) -> Citation:
        meta = self.library.metadata(span.source)
        holder = next(
            (
                p
                for p in self.passages
                if p.source == span.source and p.start <= span.start and span.end <= p.end
            ),
            None,
        )
        return Citation(
            n=self.numbers[span],
            source=span.source,
            title=meta.title,
            url=meta.url,
            quote=quote,
            start=span.start,
            end=span.end,
            score=score,
            passage_id=holder.id if holder else None,
        )

    def refuse(self, reason: str = "") -> None:
        self.refusal = Refusal(reason)

    def answer(self, *, notice: str | None = None, fallback_from: str | None = None) -> Answer:
        """The answer so far; a refusal when the answerer refused or no sentence was kept."""
        confidence = None if self.assessment is None else self.assessment.confidence
        common: dict[str, Any] = {
            "confidence": confidence,
            "question": self.question,
            "passages": self.passages,
            "resolved_question": self.resolved_question,
            "answerer": self.answerer,
            "judge": self.judge.name,
            "dropped": self.dropped,
            "notice": notice,
            "fallback_from": fallback_from,
            "index_generation": getattr(self.library, "name", None),
        }
        if self.refusal is not None or not self.sentences:
            reason = self.refusal.reason if self.refusal else ""
            if self.refusal is None and self.dropped:
                reason = "No sentence of the drafted answer was supported by the passages it cited."
            return Answer(text=REFUSAL + (f" {reason}" if reason else ""), refused=True, **common)
        text = " ".join(render_sentence(s) for s in self.sentences)
        grounding = sum(s.support for s in self.sentences) / len(self.sentences)
        unsure = confidence is not None and confidence < self.library.settings.unsure_below
        return Answer(
            text=text,
            citations=self.citations,
            refused=False,
            unsure=unsure,
            grounding=round(grounding, 4),
            sentences=self.sentences,
            **common,
        )
