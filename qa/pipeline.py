"""The pipeline: answer questions with cited, verified answers, from the index its keeper serves.

    from qa import Pipeline, Settings
    pipeline = Pipeline(Settings(top_k=8))
    answer = pipeline.ask("Who reported 12,000 troops?")

One question flows request → resolve (a follow-up joined with the turns it follows) → retrieve →
answer (the answerer streams its draft) → verify (the judge checks each sentence as it ends) →
assess (how likely the answer is to be right) → fall back (an LLM answer the judge backs too
little of, or an LLM that fails, is replaced by the extractive answer, saying why).

The index is opened, built, healed and kept in line with the seeds folder by
:class:`qa.keeper.IndexKeeper` (``pipeline.index``), which is also the document library:
``pipeline.index.sources()``, ``pipeline.index.document(name)``. Models and the index load lazily,
once, on the first question (or :meth:`Pipeline.load`). A pipeline is safe to share between
threads (the UI does).

:meth:`Pipeline.stream` yields as the answer is written: the answerer's text
(:class:`~qa.schema.TokenEvent`), each sentence once verified (:class:`~qa.schema.SentenceEvent`),
and last the whole :class:`~qa.schema.AnswerEvent`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from core.errors import IndexCorruptError, InvalidOptionError, LLMError
from core.settings import RetrievalMode, Settings
from qa import registry
from qa.answer import AnswerBuilder, Answerer, Assessor, DraftSentence, Refusal
from qa.extractive.answerer import ExtractiveAnswerer
from qa.followup import History, Resolved, resolve
from qa.keeper import IndexKeeper
from qa.request import Request, parse_request
from qa.schema import Answer, AnswerEvent, NoticeEvent, Passage, SentenceEvent, StreamEvent, TokenEvent
from qa.verify import SupportJudge

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from qa.served import ServedIndex

log = logging.getLogger(__name__)
FALLBACK = "extractive"  # the answerer that stands in when another fails
OPTIONS = ("top_k", "sources", "answerer", "mode")  # what ask/stream take besides question and history


class Pipeline:
    """Retrieval, answering and verification over one index. See the module docstring."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embeddings: Embeddings | None = None,
        judge: SupportJudge | None = None,
        answerers: dict[str, Answerer] | None = None,
        judges: dict[str, SupportJudge] | None = None,
    ) -> None:
        """``judge`` scores every answer when given; ``answerers`` and ``judges`` (by name) stand
        in for the ones :mod:`qa.registry` would make; the rest are made on first use."""
        self.settings = settings or Settings.load()
        self.index = IndexKeeper(self.settings, embeddings)
        self._judge = judge
        self._answerers: dict[str, Answerer] = dict(answerers or {})
        self._judges: dict[str, SupportJudge] = dict(judges or {})
        self.models = registry.Models(self.settings, self.index.embed)
        self._lock = threading.RLock()

    def load(self) -> None:
        """Open (or build) the index and warm it up: see :meth:`qa.keeper.IndexKeeper.load`."""
        self.index.load()

    def close(self) -> None:
        """Stop following the seeds and close the index files."""
        self.index.close()

    @property
    def judge(self) -> SupportJudge:
        """The judge of extractive answers (the one given to the constructor, if any)."""
        return self.judge_for(FALLBACK)

    def judge_for(self, answerer: str) -> SupportJudge:
        """The judge that scores answers by ``answerer`` (see :func:`qa.registry.judge_name`)."""
        if self._judge is not None:
            return self._judge
        name = registry.judge_name(self.settings, answerer)
        with self._lock:
            if name not in self._judges:
                self._judges[name] = registry.make_judge(name, self.settings, self.models)
            return self._judges[name]

    def answerer(self, name: str) -> Answerer:
        """The answerer registered as ``name``, made on first use."""
        with self._lock:
            if name not in self._answerers:
                self._answerers[name] = registry.make_answerer(name, self.settings, self.models)
            return self._answerers[name]

    def _assessor(self) -> Assessor:
        """Who assesses the answers of an answerer that does not assess its own: the extractive
        answerer (with the reader, where the settings use it)."""
        made = self.answerer(FALLBACK)
        return made if isinstance(made, Assessor) else ExtractiveAnswerer()

    @property
    def answerer_names(self) -> list[str]:
        """The answerers this installation can use, the default first."""
        known = registry.available_answerers(self.settings)
        return known + [n for n in self._answerers if n not in known]

    # --- asking

    def request(self, question: Any, history: Any = None, **options: Any) -> Request:
        """The checked :class:`~qa.request.Request`: every entry point's input goes through this.
        Options: ``top_k``, ``sources``, ``answerer``, ``mode``; another name is an ``InvalidOptionError``."""
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise InvalidOptionError(
                f"Unknown option {unknown[0]!r}; the options are {', '.join(OPTIONS)}", field=unknown[0]
            )
        return parse_request(
            question,
            history,
            **options,
            max_question_chars=self.settings.max_question_chars,
            max_history_chars=self.settings.max_history_chars,
            answerers=[*registry.ANSWERERS, *(n for n in self._answerers if n not in registry.ANSWERERS)],
        )

    def retrieve(
        self,
        question: str,
        *,
        top_k: int | None = None,
        sources: list[str] | None = None,
        mode: RetrievalMode | None = None,
    ) -> list[Passage]:
        """The passages retrieval finds for ``question``, best first."""
        request = self.request(question, top_k=top_k, sources=sources, mode=mode)
        return self._retrieve(
            request.question,
            top_k=request.top_k,
            sources=list(request.sources) if request.sources else None,
            mode=request.mode,
        )

    def _retrieve(
        self,
        query: str,
        *,
        top_k: int | None = None,
        sources: list[str] | None = None,
        mode: RetrievalMode | None = None,
        served: ServedIndex | None = None,
    ) -> list[Passage]:
        """Retrieval for a query already checked: a follow-up's query joins the question with the
        earlier turns, so the limit on what a user may type does not apply to it."""
        served = served or self.index.served()
        self.index.check_sources(sources, served)
        return served.retriever.retrieve(query, top_k=top_k, sources=sources, mode=mode)

    def ask(self, question: str, history: History | None = None, **options: Any) -> Answer:
        """Answer ``question`` from the sources, with citations; ``history`` holds earlier turns
        as ``(role, text)`` pairs, role ``"user"`` or ``"assistant"``. Options: ``top_k``,
        ``sources`` (document names), ``answerer``, ``mode``; bad input raises an
        :class:`~core.errors.InvalidRequestError` naming the field (see :mod:`qa.request`)."""
        for event in self.stream(question, history, **options):
            if isinstance(event, AnswerEvent):
                return event.answer
        raise AssertionError("a stream always ends with the answer")  # pragma: no cover

    def stream(self, question: str, history: History | None = None, **options: Any) -> Iterator[StreamEvent]:
        """:meth:`ask`, yielding as the answer is written (see the module docstring); the last
        event is the :class:`~qa.schema.AnswerEvent`. Bad input raises before the first event."""
        return self.stream_request(self.request(question, history, **options))

    def stream_request(self, request: Request) -> Iterator[StreamEvent]:
        """:meth:`stream` for a request already checked by :meth:`request`. Everything a question
        needs lives in this call: questions asked from many threads at once share no state but the
        index and the models, which are read-only while answering."""
        served = (
            self.index.served()
        )  # one generation for the whole question, even if a build publishes meanwhile
        sources = list(request.sources) if request.sources else None
        try:
            self.index.check_sources(sources, served)  # unknown names fail before anything streams
        except IndexCorruptError as error:
            served = self.index.heal(served, error)
            self.index.check_sources(sources, served)
        return self._healed_stream(request, sources, served)

    def _healed_stream(
        self, request: Request, sources: list[str] | None, served: ServedIndex
    ) -> Iterator[StreamEvent]:
        """:meth:`_stream`; a generation found damaged on the way is healed (:meth:`qa.keeper.IndexKeeper.heal`) and the
        question answered again from the new one, what was streamed before discarded."""
        streamed = False
        try:
            for event in self._stream(request, sources, served):
                streamed = True
                yield event
            return
        except IndexCorruptError as error:
            served = self.index.heal(served, error)
        if streamed:
            notice = "The index was found damaged while answering and was rebuilt from the articles; this is the answer from the rebuilt index."
            yield NoticeEvent(message=notice, restart=True)
        yield from self._stream(request, sources, served)

    def _stream(
        self, request: Request, sources: list[str] | None, served: ServedIndex
    ) -> Iterator[StreamEvent]:
        """The requested answerer's answer; when it fails, or the judge backs too little of what it
        wrote, the next answerer's (the extractive one), with a notice saying why."""
        chain = list(dict.fromkeys([request.answerer or self.settings.answerer, FALLBACK]))
        searched: tuple[str, list[Passage]] | None = (
            None  # a later answerer reuses a search for the same query
        )
        notice: str | None = None
        failed: str | None = None
        replaced: AnswerBuilder | None = None  # what a replaced answerer wrote stays visible
        for number, name in enumerate(chain):
            last = number == len(chain) - 1
            try:
                resolved = self._resolve(request, name)
                if searched is None or searched[0] != resolved.query:
                    found = self._retrieve(
                        resolved.query, top_k=request.top_k, sources=sources, mode=request.mode, served=served
                    )
                    searched = (resolved.query, found)
                passages = searched[1]
                builder = self._builder(request.question, resolved, passages, name, served)
                yield from self._run(self.answerer(name), resolved, passages, builder)
            except LLMError as error:
                if last:
                    raise
                log.warning("The %s answerer failed, answering extractively: %s", name, error)
                notice, failed, replaced = (
                    f"{str(error).rstrip('.')}. This is the extractive answer.",
                    name,
                    None,
                )
                yield NoticeEvent(message=notice, restart=True)
                continue
            too_little = None if last else self._too_little_supported(name, builder)
            if too_little is not None:
                notice, failed, replaced = too_little, name, builder
                yield NoticeEvent(message=notice, restart=True)
                continue
            answer = builder.answer(notice=notice, fallback_from=failed)
            if replaced is not None:
                answer.dropped = replaced.dropped + [s for s in replaced.sentences if not s.supported]
            yield AnswerEvent(answer=answer)
            return

    def _too_little_supported(self, name: str, builder: AnswerBuilder) -> str | None:
        """Why the answer ``builder`` holds is replaced: the judge backed too little of it."""
        if builder.refusal is not None or not builder.judged:
            return None
        if builder.supported_share >= self.settings.min_supported_share and builder.sentences:
            return None
        kept = sum(s.supported for s in builder.sentences)
        return (
            f"The judge supported {kept} of the {builder.judged} sentences the {name} answerer "
            f"wrote (QA_MIN_SUPPORTED_SHARE={self.settings.min_supported_share}); "
            "this is the extractive answer."
        )

    def _resolve(self, request: Request, answerer: str) -> Resolved:
        """The question made ready for retrieval: rewritten by the LLM for an LLM answer in a
        conversation, else resolved by the follow-up rules of :mod:`qa.followup`."""
        turns = list(request.history)
        if answerer in registry.NEEDS_LLM and turns:
            return registry.rewriter(self.settings, self.models).rewrite(request.question, turns)
        return resolve(request.question, turns)

    def _builder(
        self, question: str, resolved: Resolved, passages: list[Passage], name: str, served: ServedIndex
    ) -> AnswerBuilder:
        return AnswerBuilder(
            question,
            passages,
            served,
            self.judge_for(name),
            answerer=name,
            # The fallback's sentences are marked, never dropped: nothing stands behind it.
            policy=self.settings.unsupported if name != FALLBACK else "mark",
            resolved_question=resolved.query if resolved.is_followup else None,
        )

    def _run(
        self, answerer: Answerer, resolved: Resolved, passages: list[Passage], builder: AnswerBuilder
    ) -> Iterator[StreamEvent]:
        """Stream the answerer's draft into ``builder``, verifying each sentence as it ends, then
        assess it: by the answerer when it can (:class:`~qa.answer.Assessor`), else by the
        extractive answerability model."""
        for item in answerer.stream(resolved, passages, builder.library):
            if isinstance(item, str):
                yield TokenEvent(text=item)
            elif isinstance(item, DraftSentence):
                sentence, added, kept = builder.add(item)
                yield SentenceEvent(sentence=sentence, citations=added, kept=kept)
            elif isinstance(item, Refusal):
                builder.refuse(item.reason)
                break
        assessor = answerer if isinstance(answerer, Assessor) else self._assessor()
        builder.assessment = assessor.assess(resolved, passages, builder.library)
