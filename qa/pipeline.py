"""The pipeline: load the index once, then answer questions with cited, verified answers.

    from qa import Pipeline, Settings
    pipeline = Pipeline(Settings(top_k=8))
    answer = pipeline.ask("Who reported 12,000 troops?")

Models and the index load lazily, once, on the first question (or :meth:`Pipeline.load`); the
index is built from the seeds folder first when none exists and ``Settings.auto_build`` is on.
A pipeline is safe to share between threads (the UI does).

:meth:`Pipeline.stream` yields as the answer is written: the answerer's text
(:class:`~qa.schema.TokenEvent`), each sentence once verified (:class:`~qa.schema.SentenceEvent`),
and last the whole :class:`~qa.schema.AnswerEvent`. An LLM answer falls back to the extractive
one, saying why, when the LLM fails or the judge supports too little of what it wrote.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from qa import registry
from qa.answer import AnswerBuilder, Answerer, DraftSentence, Refusal
from qa.confidence import Assessment
from qa.errors import IndexMissingError, InvalidQuestionError, LLMError, UnknownSourceError
from qa.extractive import ExtractiveAnswerer, idf_table
from qa.followup import History, Resolved, resolve
from qa.lexical import fold, terms
from qa.schema import (
    Answer,
    AnswerEvent,
    NoticeEvent,
    Passage,
    SentenceEvent,
    StreamEvent,
    TokenEvent,
)
from qa.settings import RetrievalMode, Settings
from qa.verify import SupportJudge

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from index.build import BuildReport, Progress
    from index.manifest import Manifest
    from index.metadata import DocumentMetadata
    from qa.retrieve import Retriever

log = logging.getLogger(__name__)
FALLBACK = "extractive"  # the answerer that stands in when another fails


@dataclass(frozen=True)
class SourceDocument:
    """A seed document as indexed: its exact text and metadata."""

    source: str
    text: str
    metadata: DocumentMetadata


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
        self.settings = settings or Settings()
        self._embeddings = embeddings
        self._judge = judge
        self._answerers: dict[str, Answerer] = dict(answerers or {})
        self._judges: dict[str, SupportJudge] = dict(judges or {})
        self.models = registry.Models(self.settings, self.embed)
        self._lock = threading.RLock()
        self._vectors: dict[str, list[float]] = {}
        self._manifest: Manifest | None = None
        self._retriever: Retriever | None = None
        self._texts: dict[str, str] = {}
        self._idf: dict[str, float] = {}
        self._unseen_idf = 1.0
        self._folded: str | None = None
        self.stale_sources: list[str] = []  # indexed seeds left out because they changed since
        self._synced = False  # whether ensure_index has run: load() need not run it again
        self._assessor = ExtractiveAnswerer()  # assesses answers whose answerer does not

    # --- loading

    @cached_property
    def embeddings(self) -> Embeddings:
        """The embeddings given to the constructor, or the settings' model, loaded on first use."""
        if self._embeddings is not None:
            return self._embeddings
        from index.embed import load_embeddings

        return load_embeddings(self.settings.resolved_embedding_model)

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

    def ensure_index(self, progress: Progress | None = None) -> BuildReport | None:
        """Bring the index in line with the seeds folder (build it when there is none, update
        what changed); the report when anything changed, ``None`` when it was up to date."""
        from index.build import build_index

        with self._lock:
            report = build_index(self.settings, embeddings=self.embeddings, progress=progress)
            self._synced = True
            for error in report.errors:
                log.warning("%s", error)
            if report.added or report.updated or report.removed:
                self._retriever = None
                return report
            return None

    def load(self) -> None:
        """Open the index, check it matches the settings and the seeds, and load the retrievers."""
        with self._lock:
            if self._retriever is not None:
                return
            from index.build import embedding_record
            from index.store import open_index, read_all_chunks, vector_store
            from qa.retrieve import Retriever

            if self.settings.auto_build and not self._synced:
                self.ensure_index()
            manifest = open_index(self.settings, embedding_record(self.settings))
            texts, stale = self._read_indexed_seeds(manifest)
            store = vector_store(self.settings, self.embeddings)
            chunks = [c for c in read_all_chunks(store) if c.metadata.get("source") in texts]
            if not chunks:
                raise IndexMissingError(
                    "The index holds no usable chunks: run `python -m index build --rebuild`"
                )
            self._idf = idf_table([terms(c.text) for c in chunks])
            self._unseen_idf = max(self._idf.values())  # a word no chunk holds weighs as the rarest
            self._texts, self._manifest, self.stale_sources = texts, manifest, stale
            self._folded = None
            self._retriever = Retriever(store, chunks, self.settings, only=sorted(texts) if stale else None)

    def _read_indexed_seeds(self, manifest: Manifest) -> tuple[dict[str, str], list[str]]:
        """The text of every indexed seed that is still as it was indexed, and the names of those
        that changed, vanished or cannot be read since: citing into them would point at wrong text."""
        texts: dict[str, str] = {}
        stale: list[str] = []
        for source, record in manifest.documents.items():
            path = self.settings.seeds_dir / source
            try:
                raw = path.read_bytes()
            except OSError:
                raw = b""
            if hashlib.sha256(raw).hexdigest() == record.sha256:
                texts[source] = raw.decode("utf-8")
            else:
                stale.append(source)
        if stale:
            log.warning(
                "Left out of answers until `python -m index build` succeeds for them (changed, missing "
                "or unreadable since indexing): %s",
                ", ".join(sorted(stale)),
            )
        return texts, sorted(stale)

    @property
    def retriever(self) -> Retriever:
        self.load()
        assert self._retriever is not None
        return self._retriever

    # --- the Library the answerers read

    def text(self, source: str) -> str:
        self.load()
        if source not in self._texts:
            raise UnknownSourceError(f"No document named {source!r} in the index")
        return self._texts[source]

    def metadata(self, source: str) -> DocumentMetadata:
        self.load()
        assert self._manifest is not None
        if source not in self._manifest.documents:
            raise UnknownSourceError(f"No document named {source!r} in the index")
        return self._manifest.documents[source].metadata

    def sources(self) -> list[str]:
        """The names of the indexed documents that answers may cite (see ``stale_sources``)."""
        self.load()
        return sorted(self._texts)

    def document(self, source: str) -> SourceDocument:
        """One indexed document, for showing it; ``UnknownSourceError`` for any other name."""
        return SourceDocument(source, self.text(source), self.metadata(source))

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Normalised embeddings, cached: answers embed the same sentences again and again."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            for text, vector in zip(missing, self.embeddings.embed_documents(missing), strict=True):
                self._vectors[text] = vector
        return [self._vectors[t] for t in texts]

    def idf(self, term: str) -> float:
        self.load()
        return self._idf.get(term, self._unseen_idf)

    def mentions(self, word: str) -> bool:
        """Whether any indexed document contains ``word`` (folded; ``12000`` matches ``12,000``)."""
        self.load()
        if self._folded is None:
            self._folded = fold(" ".join(self._texts.values())).replace(",", "").replace(".", "")
        needle = fold(word).replace(",", "").replace(".", "")
        return re.search(rf"(?<![\w]){re.escape(needle)}", self._folded) is not None

    @property
    def answerer_names(self) -> list[str]:
        """The answerers this installation can use, the default first."""
        known = registry.available_answerers(self.settings)
        return known + [n for n in self._answerers if n not in known]

    # --- asking

    def check_question(self, question: str) -> str:
        """The question stripped; ``InvalidQuestionError`` when empty or too long."""
        if not isinstance(question, str) or not question.strip():
            raise InvalidQuestionError("The question is empty: type a question about the articles")
        question = question.strip()
        if len(question) > self.settings.max_question_chars:
            raise InvalidQuestionError(
                f"The question is {len(question):,} characters long; the limit is "
                f"{self.settings.max_question_chars:,} (QA_MAX_QUESTION_CHARS)"
            )
        return question

    def retrieve(
        self,
        question: str,
        *,
        top_k: int | None = None,
        sources: list[str] | None = None,
        mode: RetrievalMode | None = None,
    ) -> list[Passage]:
        """The passages retrieval finds for ``question``, best first."""
        return self._retrieve(self.check_question(question), top_k=top_k, sources=sources, mode=mode)

    def _retrieve(
        self,
        query: str,
        *,
        top_k: int | None = None,
        sources: list[str] | None = None,
        mode: RetrievalMode | None = None,
    ) -> list[Passage]:
        """Retrieval for a query already checked: a follow-up's query joins the question with the
        earlier turns, so the limit on what a user may type does not apply to it."""
        self._check_sources(sources)
        return self.retriever.retrieve(query, top_k=top_k, sources=sources, mode=mode)

    def _check_sources(self, sources: list[str] | None) -> None:
        unknown = sorted(set(sources or []) - set(self.sources()))
        if unknown:
            raise UnknownSourceError(f"No documents named {unknown} in the index; known: {self.sources()}")

    def ask(
        self,
        question: str,
        history: History | None = None,
        *,
        top_k: int | None = None,
        sources: list[str] | None = None,
        answerer: str | None = None,
        mode: RetrievalMode | None = None,
    ) -> Answer:
        """Answer ``question`` from the sources, with citations; ``history`` holds earlier turns
        as ``(role, text)`` pairs, role ``"user"`` or ``"assistant"``."""
        for event in self.stream(
            question, history, top_k=top_k, sources=sources, answerer=answerer, mode=mode
        ):
            if isinstance(event, AnswerEvent):
                return event.answer
        raise AssertionError("a stream always ends with the answer")  # pragma: no cover

    def stream(
        self,
        question: str,
        history: History | None = None,
        *,
        top_k: int | None = None,
        sources: list[str] | None = None,
        answerer: str | None = None,
        mode: RetrievalMode | None = None,
    ) -> Iterator[StreamEvent]:
        """:meth:`ask`, yielding as the answer is written (see the module docstring); the last
        event is the :class:`~qa.schema.AnswerEvent`. Bad input raises before the first event."""
        question = self.check_question(question)
        name = answerer or self.settings.answerer
        if name not in registry.ANSWERERS and name not in self._answerers:
            raise InvalidQuestionError(
                f"Unknown answerer {name!r}; available: {', '.join(self.answerer_names)}"
            )
        turns = _check_history(history)
        self._check_sources(sources)  # unknown names fail before anything streams
        searched: tuple[str, list[Passage]] | None = None  # the fallback reuses a search for the same query
        try:
            resolved = self._resolve(question, turns, name)
            passages = self._retrieve(resolved.query, top_k=top_k, sources=sources, mode=mode)
            searched = (resolved.query, passages)
            builder = self._builder(question, resolved, passages, name)
            yield from self._run(self.answerer(name), resolved, passages, builder)
        except LLMError as error:
            if name == FALLBACK:
                raise
            log.warning("The %s answerer failed, answering extractively: %s", name, error)
            notice = f"{str(error).rstrip('.')}. This is the extractive answer."
            yield NoticeEvent(message=notice, restart=True)
            yield from self._fallback(question, turns, top_k, sources, mode, notice, name, searched)
            return
        if name != FALLBACK and builder.refusal is None and builder.judged:
            share = builder.supported_share
            if share < self.settings.min_supported_share or not builder.sentences:
                kept = sum(s.supported for s in builder.sentences)
                notice = (
                    f"The judge supported {kept} of the {builder.judged} sentences the {name} answerer "
                    f"wrote (QA_MIN_SUPPORTED_SHARE={self.settings.min_supported_share}); "
                    "this is the extractive answer."
                )
                yield NoticeEvent(message=notice, restart=True)
                yield from self._fallback(
                    question, turns, top_k, sources, mode, notice, name, searched, builder
                )
                return
        yield AnswerEvent(answer=builder.answer())

    def _resolve(self, question: str, turns: list[tuple[str, str]], answerer: str) -> Resolved:
        """The question made ready for retrieval: rewritten by the LLM for an LLM answer in a
        conversation, else resolved by the follow-up rules of :mod:`qa.followup`."""
        if answerer in registry.NEEDS_LLM and turns:
            return registry.rewriter(self.settings, self.models).rewrite(question, turns)
        return resolve(question, turns)

    def _builder(
        self, question: str, resolved: Resolved, passages: list[Passage], name: str
    ) -> AnswerBuilder:
        return AnswerBuilder(
            question,
            passages,
            self,
            self.judge_for(name),
            answerer=name,
            # The fallback's sentences are marked, never dropped: nothing stands behind it.
            policy=self.settings.unsupported if name != FALLBACK else "mark",
            resolved_question=resolved.query if resolved.is_followup else None,
        )

    def _run(
        self, answerer: Answerer, resolved: Resolved, passages: list[Passage], builder: AnswerBuilder
    ) -> Iterator[StreamEvent]:
        """Stream the answerer's draft into ``builder``, verifying each sentence as it ends."""
        for item in answerer.stream(resolved, passages, self):
            if isinstance(item, str):
                yield TokenEvent(text=item)
            elif isinstance(item, DraftSentence):
                sentence, added, kept = builder.add(item)
                yield SentenceEvent(sentence=sentence, citations=added, kept=kept)
            elif isinstance(item, Assessment):
                builder.assessment = item
            elif isinstance(item, Refusal):
                builder.refuse(item.reason)
                break
        if builder.assessment is None:  # an answerer that does not assess (the LLM): the model does
            builder.assessment = self._assessor.assess(resolved, passages, self)

    def _fallback(
        self,
        question: str,
        turns: list[tuple[str, str]],
        top_k: int | None,
        sources: list[str] | None,
        mode: RetrievalMode | None,
        notice: str,
        failed: str,
        searched: tuple[str, list[Passage]] | None,
        replaced: AnswerBuilder | None = None,
    ) -> Iterator[StreamEvent]:
        resolved = resolve(question, turns)
        if searched is not None and searched[0] == resolved.query:
            passages = searched[1]
        else:  # the failed answerer searched for an LLM-rewritten question, or not at all
            passages = self._retrieve(resolved.query, top_k=top_k, sources=sources, mode=mode)
        builder = self._builder(question, resolved, passages, FALLBACK)
        yield from self._run(self.answerer(FALLBACK), resolved, passages, builder)
        answer = builder.answer(notice=notice, fallback_from=failed)
        if replaced is not None:  # what the failed answerer wrote stays visible
            answer.dropped = replaced.dropped + [s for s in replaced.sentences if not s.supported]
        yield AnswerEvent(answer=answer)

    # --- LangChain

    def as_retriever(self, **options: Any) -> Any:
        """The hybrid retriever as a LangChain ``BaseRetriever`` (see :mod:`qa.chain`)."""
        from qa.chain import PipelineRetriever

        return PipelineRetriever(pipeline=self, **options)

    def as_runnable(self) -> Any:
        """The whole answering pipeline as a LangChain ``Runnable`` (see :mod:`qa.chain`)."""
        from qa.chain import AnswerRunnable

        return AnswerRunnable(self)


def _check_history(history: History | None) -> list[tuple[str, str]]:
    turns = []
    for turn in history or []:
        if not (isinstance(turn, Sequence) and len(turn) == 2 and turn[0] in ("user", "assistant")):
            raise InvalidQuestionError(
                f"History turns are (role, text) pairs with role 'user' or 'assistant', not {turn!r}"
            )
        turns.append((str(turn[0]), str(turn[1] or "")))
    return turns
