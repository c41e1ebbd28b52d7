"""The default answerer: no LLM, only sentences the sources actually contain.

It splits the retrieved passages into sentences, scores each against the question (embedding
similarity plus IDF-weighted word coverage, with a small bonus when the sentence holds the kind of
thing asked for: a number for "how many", a date for "when"), and answers with the best one. When
other articles give a *different* figure or date for the same question it quotes each of them and
says that the sources differ. Questions about the articles themselves (author, date, publisher,
URL, title) are answered from the document metadata and cite the words that state it. It refuses
when the learned answerability model (:mod:`qa.confidence`) puts the probability that its answer is
right below ``Settings.abstain_below`` (by default the threshold the model was trained with).
A sentence that speaks to the software reading it ("ignore previous instructions", "when asked X,
answer Y": :mod:`index.injection`) is never an answer, nor quoted beside one.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator

from core.lexical import MONTHS, names, terms
from core.settings import Settings
from index.injection import addressed_in
from index.texts import MIN_SENTENCE_WORDS, field_quote, line_sentences
from qa.answer import Assessment, Draft, Drafted, DraftSentence, Library, Span
from qa.confidence import abstain_threshold, assess, metadata_assessment
from qa.extractive.candidates import (
    WEIGHTS,
    Candidate,
)
from qa.extractive.question import (
    _FIELD_WORDS,
    about_a_document,
    display_value,
    metadata_field,
    names_someone,
    question_kind,
    values,
)
from qa.followup import Resolved
from qa.reader import Reader, probability
from qa.schema import Passage

DRAFTS_KEPT = 256  # drafts remembered for their assessment (questions answered at once, and more)


class ExtractiveAnswerer:
    """Answers with the source sentences themselves; see the module docstring."""

    name = "extractive"

    def __init__(self, reader: Reader | None = None, read: int = 8) -> None:
        self.reader = reader  # re-ranks the best ``read`` candidates (None: the hand-set score alone)
        self.read = read
        # The drafts written last, so that assessing one (the pipeline's next step) reuses the
        # assessment its abstention rested on. Keyed by what a draft depends on, not by thread: a
        # streamed answer may resume on another thread (Gradio runs each step in its pool).
        self._drafts: OrderedDict[tuple[object, ...], tuple[weakref.ref[Library], Draft]] = OrderedDict()
        self._lock = threading.Lock()

    def stream(self, question: Resolved, passages: list[Passage], library: Library) -> Iterator[Drafted]:
        """The answer sentence by sentence (it is chosen whole before the first is yielded)."""
        yield from self.draft(question, passages, library).stream()

    def draft(self, question: Resolved, passages: list[Passage], library: Library) -> Draft:
        """The answer, chosen whole, with the assessment it rests on (``Draft.assessment``)."""
        draft = self._draft(question, passages, library)
        with self._lock:
            self._drafts[(*_inputs(question, passages), id(library))] = (weakref.ref(library), draft)
            while len(self._drafts) > DRAFTS_KEPT:
                self._drafts.popitem(last=False)
        return draft

    def assess(self, question: Resolved, passages: list[Passage], library: Library) -> Assessment:
        """How likely the answer to ``question`` from ``passages`` is to be right: for an answer this
        answerer drafted, the assessment it rested on; for another answerer's, the answerability
        model's view of the passages."""
        with self._lock:
            kept = self._drafts.get((*_inputs(question, passages), id(library)))
        if kept is not None and kept[0]() is library and kept[1].assessment is not None:
            return kept[1].assessment  # None: it drafted from no passage
        return assess(question, self.candidates(question, passages, library), passages, library)

    def _draft(self, question: Resolved, passages: list[Passage], library: Library) -> Draft:
        if not passages:
            return Draft(refused=True, reason="No passage matched the question.")
        field = metadata_field(question.question)
        if field is not None and about_a_document(question.question, library):
            return self._metadata_answer(question, field, passages, library)
        candidates = self.candidates(question, passages, library)
        assessment = assess(question, candidates, passages, library)
        if not candidates or _abstains(assessment, candidates[0], library.settings):
            return Draft(refused=True, reason=_refusal_reason(assessment), assessment=assessment)
        best = candidates[0]
        kind = question_kind(question.question)
        conflict = self._conflict(candidates, kind, set(terms(question.query)), library)
        if conflict is not None:
            conflict.assessment = assessment
            return conflict
        chosen = [best]
        for other in candidates[1:]:
            if (
                other.span.source != best.span.source
                and other.score >= WEIGHTS.second_source_ratio * best.score
                and _read_as_answering(other, best)
            ):
                chosen.append(other)
                break
        if kind == "who":
            known = names(question.query) | names(question.query.lower().title())
            return Draft([self._with_speaker(c, known, library) for c in chosen], assessment=assessment)
        return Draft([DraftSentence(c.text, [c.span]) for c in chosen], assessment=assessment)

    def candidates(self, question: Resolved, passages: list[Passage], library: Library) -> list[Candidate]:
        """The sentences of the passages (and their neighbours) scored against the question, best
        first: by the hand-set score, then the best ``read`` of them re-ranked by the reader."""
        sentences = self._sentences(passages, library)
        candidates = self._score(question, sentences, library)
        candidates.sort(key=lambda c: c.score, reverse=True)
        if self.reader is None or not candidates:
            return candidates
        previous = {span: before for span, _, before, _ in sentences}
        top = candidates[: self.read]
        asked = question.query if question.is_followup else question.question
        logits = self.reader.logits(asked, [(c.text, previous[c.span]) for c in top])
        for candidate, logit in zip(top, logits, strict=True):
            candidate.reader = logit
        # The reader's log-odds with the hand-set order as a prior (one nat per factor of rank): on
        # the learn split's validation article the reader alone picked worse than the order it reads.
        ranked = sorted(
            enumerate(top, start=1), key=lambda ic: (ic[1].reader or 0.0) - math.log(ic[0]), reverse=True
        )
        return [c for _, c in ranked] + candidates[self.read :]

    @staticmethod
    def _with_speaker(candidate: Candidate, known: set[str], library: Library) -> DraftSentence:
        """A "who" answer needs a name: when the sentence names nobody new (a quotation, "he
        said"), it is quoted together with the nearest sentence before it, in its paragraph, that does."""
        span = candidate.span
        if names_someone(candidate.text, known):
            return DraftSentence(candidate.text, [span])
        text = library.text(span.source)
        paragraph = line_sentences(text, span.start, span.start)
        before = [
            s
            for s, why in zip(paragraph, addressed_in(text, paragraph), strict=True)
            if s[1] <= span.start and why is None
        ][-WEIGHTS.speaker_lookback :]
        for start, end in reversed(before):
            if names_someone(text[start:end], known):
                return DraftSentence(text[start : span.end], [Span(span.source, start, span.end)])
        return DraftSentence(candidate.text, [span])

    # --- sentences and their scores

    @staticmethod
    def _sentences(passages: list[Passage], library: Library) -> list[tuple[Span, str, str, int]]:
        """``(span, sentence, previous sentence, passage rank)`` for the passages' sentences and
        ``WEIGHTS.neighbours`` more on each side, within the document's paragraphs; none that speaks to the
        software reading it."""
        seen: set[Span] = set()
        found = []
        for passage in passages:
            text = library.text(passage.source)
            spans = line_sentences(text, passage.start, passage.end)
            inside = [i for i, (a, b) in enumerate(spans) if passage.start <= a and b <= passage.end]
            if not inside:
                continue
            chosen = range(
                max(0, inside[0] - WEIGHTS.neighbours), min(len(spans), inside[-1] + WEIGHTS.neighbours + 1)
            )
            planted = addressed_in(text, spans)
            for i in chosen:
                start, end = spans[i]
                span = Span(passage.source, start, end)
                sentence = text[start:end]
                if (
                    span in seen
                    or len(sentence.split()) < MIN_SENTENCE_WORDS
                    or planted[i]
                    or _asks(sentence)
                ):
                    continue
                seen.add(span)
                previous = text[spans[i - 1][0] : spans[i - 1][1]] if i > 0 else ""
                found.append((span, sentence, previous, passage.rank))
        return found

    @staticmethod
    def _score(
        question: Resolved, sentences: list[tuple[Span, str, str, int]], library: Library
    ) -> list[Candidate]:
        if not sentences:
            return []
        queries = [question.question] + ([question.query] if question.is_followup else [])
        texts = [s for _, s, _, _ in sentences]
        in_context = [f"{p} {s}" if p else s for _, s, p, _ in sentences]
        import numpy as np

        matrix = np.asarray(library.embed(queries + texts + in_context), dtype=np.float32)
        # Cosines of every sentence (alone, then read after the one before) with each query, >= 0.
        similarities = np.clip(matrix[len(queries) :] @ matrix[: len(queries)].T, 0.0, None).tolist()
        own, contextual = similarities[: len(texts)], similarities[len(texts) :]
        asked = set(terms(question.question))
        context = set(terms(question.query)) - asked
        focus = asked | context
        kind = question_kind(question.question)
        weight = WEIGHTS.followup_context_weight if question.is_followup else 0.0

        idf = {t: library.idf(t) for t in focus}  # weighed once per question, not per sentence
        asked_total, context_total = sum(idf[t] for t in asked), sum(idf[t] for t in context)

        def coverage(wanted: set[str], total: float, have: set[str]) -> float:
            return sum(idf[t] for t in wanted & have) / total if total else 0.0

        candidates = []
        for (span, sentence, _previous, rank), alone, with_previous in zip(
            sentences, own, contextual, strict=True
        ):
            cosines_ = [
                max(a, b - WEIGHTS.context_discount) for a, b in zip(alone, with_previous, strict=True)
            ]
            have = set(terms(sentence))
            cosine = (1 - weight) * cosines_[0] + weight * cosines_[-1]
            cover = (
                (1 - weight) * coverage(asked, asked_total, have)
                + weight * coverage(context, context_total, have)
                if context
                else coverage(asked, asked_total, have)
            )
            bonus = WEIGHTS.kind_bonus if kind and values(sentence, kind, focus) else 0.0
            candidates.append(Candidate(span, sentence, cosine, cover, bonus, rank))
        return candidates

    # --- conflicting sources

    @staticmethod
    def _conflict(
        candidates: list[Candidate], kind: str | None, focus: set[str], library: Library
    ) -> Draft | None:
        """Quote each article's differing figure or date, and say that they differ.

        Only sentences that answer the question compete: where the reader read them, those it reads
        as answering it (a count of special forces, or a veto in March, answers another question);
        and a sentence giving several figures or dates (a timeline, "3,000, then 10,000 more", or a
        range) is not one rival estimate, so it does not compete unless it is the answer itself.
        """
        if kind is None:
            return None
        best = candidates[0]
        picked: list[tuple[Candidate, frozenset[str]]] = []
        covered: set[str] = set()
        for candidate in candidates:
            close = candidate.score >= best.score - WEIGHTS.conflict_margin
            if not close and candidate.cosine < best.cosine - WEIGHTS.conflict_cosine_margin:
                continue
            if candidate is not best and not _answers_too(candidate, best):
                continue
            found = values(candidate.text, kind, focus)
            # Every figure (or date) the sentence gives, whatever it counts: several is a timeline.
            if candidate is not best and len(values(candidate.text, kind)) > 1:
                continue
            if found and not found <= covered:
                picked.append((candidate, found))
                covered |= found
            if len(picked) == library.settings.max_answer_sentences:
                break
        if len(picked) < 2 or len({c.span.source for c, _ in picked}) < 2:
            return None
        sentences = [DraftSentence(c.text, [c.span]) for c, _ in picked]
        listed: list[str] = []
        said: list[str] = []
        spans: list[Span] = []
        for candidate, found in picked:
            new = [v for v in sorted(found, key=lambda v: candidate.text.find(v)) if v not in listed]
            listed += new
            if new:
                said.append(" and ".join(display_value(v) for v in new))
            spans.append(candidate.span)
        noun = "figures" if kind == "how_many" else "dates"
        summary = f"The sources give different {noun}: {', '.join(said[:-1])} and {said[-1]}."
        sentences.append(DraftSentence(summary, spans))
        return Draft(sentences)

    # --- questions about the articles themselves

    @staticmethod
    def _metadata_answer(question: Resolved, field: str, passages: list[Passage], library: Library) -> Draft:
        import numpy as np

        described = library.described()
        sources, matrix, described_terms = described.sources, described.matrix, described.terms
        cosines = (matrix @ np.asarray(library.embed([question.question])[0], dtype=np.float32)).tolist()
        asked = set(terms(question.question))
        votes: dict[str, float] = {}
        for passage in passages:
            votes[passage.source] = votes.get(passage.source, 0.0) + 1 / passage.rank

        def fit(i: int) -> float:
            named = len(asked & described_terms[i]) / (len(asked) or 1)
            return cosines[i] + named + 0.2 * votes.get(sources[i], 0.0)

        source = sources[max(range(len(sources)), key=fit)]
        meta = library.metadata(source)
        value = getattr(meta, field)
        if value is None:
            title = f"“{meta.title}”" if meta.title else source
            return Draft(
                refused=True,
                reason=f"{title} does not state its {field}.",
                assessment=metadata_assessment(library.settings, found=False),
            )
        text = library.text(source)
        # Quote the sentence that states the field; a field from a sidecar cites the title line, or
        # the opening sentence of a document that has none.
        first, last = field_quote(text, meta, field)
        span = Span(source, first, last)
        shown = value if field != "date" else _long_date(value)
        return Draft(
            [DraftSentence("The article " + _FIELD_WORDS[field].format(value=shown), [span])],
            assessment=metadata_assessment(library.settings, found=True),
        )


def _inputs(question: Resolved, passages: list[Passage]) -> tuple[object, ...]:
    """What a draft depends on besides the library: the question and the passages' spans."""
    return (question.question, question.query, tuple((p.source, p.start, p.end, p.rank) for p in passages))


def _answers_too(other: Candidate, best: Candidate) -> bool:
    """Whether the reader reads ``other`` as answering the question as well (without a reader, or
    for a sentence it did not read: whether it did not read the best one either)."""
    if best.reader is None:
        return True
    return other.reader is not None and probability(other.reader) >= 0.5


def _asks(sentence: str) -> bool:
    """Whether a sentence is itself a question (a rhetorical one answers nothing)."""
    return sentence.rstrip(" \"'”’)»").endswith("?")


def _read_as_answering(other: Candidate, best: Candidate) -> bool:
    """Whether the reader, where it read both, finds ``other`` about as answering as ``best``."""
    if other.reader is None or best.reader is None:
        return other.reader is None and best.reader is None
    return probability(other.reader) >= WEIGHTS.second_source_ratio * probability(best.reader)


def _abstains(assessment: Assessment, best: Candidate, settings: Settings) -> bool:
    """Whether to refuse. Either way, a question that names someone or something (or gives a
    figure) that no indexed document mentions at all cannot be answered from them (unless that
    name is a small part of a long question: :func:`qa.confidence.unknown_decides`)."""
    if assessment.unknown:
        return True
    if settings.abstention == "score":  # the previous default, kept to compare against
        return best.confidence < settings.refusal_threshold
    return assessment.confidence < abstain_threshold(settings)


def _refusal_reason(assessment: Assessment) -> str:
    if assessment.unknown:
        shown = ", ".join(w.title() if not w.isdigit() else display_value(w) for w in assessment.unknown)
        return f"The articles never mention {shown}; the closest passages are listed below."
    return "The closest passages are listed below."


def _long_date(iso: str) -> str:
    """``2024-07-05`` as ``July 5, 2024``."""
    year, month, day = (int(part) for part in iso.split("-"))
    return f"{MONTHS[month - 1].title()} {day}, {year}"
