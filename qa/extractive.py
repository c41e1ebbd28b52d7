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

import re
from collections.abc import Iterator
from dataclasses import dataclass

from index.injection import addressed_in
from index.metadata import DocumentMetadata
from index.sentences import split_sentences
from qa.answer import Draft, Drafted, DraftSentence, Library, Span
from qa.confidence import Assessment, abstain_threshold, assess, metadata_assessment
from qa.followup import Resolved
from qa.lexical import MONTHS, STOPWORDS, fold, names, numbers, stem, terms
from qa.schema import Passage
from qa.settings import Settings

MIN_SENTENCE_WORDS = 5
COSINE_WEIGHT = 0.6  # the rest is lexical coverage
KIND_BONUS = 0.06
FOLLOWUP_CONTEXT_WEIGHT = 0.35  # share of a follow-up's score that comes from the resolved query
SECOND_SOURCE_RATIO = 0.92  # a second article's sentence joins the answer when this close to the best
SPEAKER_LOOKBACK = 2  # sentences searched back for the name a "who" answer needs
CONFLICT_MARGIN = 0.15  # how far below the best a sentence with a different figure may score...
CONFLICT_COSINE_MARGIN = 0.2  # ...or how far below the best its similarity to the question may be
CONTEXT_DISCOUNT = 0.05  # a sentence read with the one before it ("…at 12,000") scores a little less
NEIGHBOURS = 1  # sentences read beyond each end of a passage: an answer may sit just outside a chunk

_KINDS = {
    "who": re.compile(
        r"^\W*(who|whom)\b|\b(who|which (official|agency|leader|minister|person|spokesperson))\b", re.I
    ),
    "how_many": re.compile(r"\b(how many|how much|number of|what number|how large|what size|figure)\b", re.I),
    "when": re.compile(
        r"\b(when|what date|which date|what year|which year|what month|which month|what day)\b", re.I
    ),
}
_DATE_EXPRESSION = re.compile(
    rf"\b(?:(?:\d{{1,2}}(?:-\d{{1,2}})?\s+)?(?:{'|'.join(m.title() for m in MONTHS)})(?:\s+\d{{1,2}})?(?:,?\s+\d{{4}})?"
    r"|(?:19|20)\d\d)\b"
)
_METADATA = {
    "author": re.compile(
        r"\b(who wrote|written by|writer|author|byline|who penned|whose (article|opinion|piece))\b", re.I
    ),
    "date": re.compile(
        r"\b(when was (it|the|this)\b.*\b(published|posted|written)|publication date|date of (the )?(article|post|piece)|published on|posted on)\b",
        re.I,
    ),
    "publisher": re.compile(
        r"\b(who published|first appear|which (outlet|publication|publisher|site|website|newspaper|magazine)|publisher|outlet|appeared (first )?(on|in)|where was (it|the|this)\b.*\bpublished)\b",
        re.I,
    ),
    "url": re.compile(r"\b(url|web address|web link|link to)\b", re.I),
}
_FIELD_WORDS = {
    # Worded as the evidence words it ("By Hal Brands", "More from The Hill", "Posted on …").
    "author": "is by {value}.",
    "date": "was posted on {value}.",
    "publisher": "is from {value}.",
    "url": "can be read at {value}",
}


def question_kind(question: str) -> str | None:
    """``'how_many'``, ``'when'``, ``'who'`` or ``None``; the first that fits.

    >>> question_kind("Who reported 12,000 troops?"), question_kind("How many were sent?")
    ('who', 'how_many')
    """
    return next((kind for kind, pattern in _KINDS.items() if pattern.search(question)), None)


def names_someone(text: str, known: set[str]) -> bool:
    """Whether ``text`` names an actor the question does not: a capitalised subject
    ("Ukrainian intelligence places …") or a run of two capitalised words ("John Kirby").

    >>> names_someone("If these North Korean troops are used, they will be targets.", {"north", "korean"})
    False
    >>> names_someone("Former Adm. John Kirby put the matter in terms of the laws of war.", set())
    True
    """
    first = re.match(r"\W*([A-Z][\w'’.-]*)", text)
    if first and first.group(1).lower() not in STOPWORDS and fold(first.group(1)) not in known:
        return True
    runs = re.findall(r"\b[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)+", text)
    return any(not set(names(run)) <= known for run in runs)


# The field word as the one who says or thinks something ("what does the author argue", "according
# to the outlet", "the writer's view"): the question is about what the article says, not about it.
_SAYS = (
    r"(say|says|said|argue|argues|argued|think|thinks|thought|claim|claims|claimed|believe|believes|"
    r"suggest|suggests|write|writes|wrote|describe|describes|mention|mentions|report|reports|reported|"
    r"explain|explains|predict|predicts|conclude|concludes|recommend|recommends|expect|expects|see|sees|"
    r"view|views|make of|feel|feels|warn|warns|propose|proposes|call|calls|consider|considers|"
    r"point|points|note|notes|emphasi[sz]e|emphasi[sz]es|assert|asserts|contend|contends)"
)
_FIELD_AS_SPEAKER = re.compile(
    rf"\b(author|writer|outlet|publisher|publication|newspaper|magazine|site|website)(['’]s)?\s+"
    rf"(\w+\s+){{0,2}}?{_SAYS}\b"
    r"|\baccording to (the|this) (author|writer|outlet|publisher|publication|article)\b"
    r"|\b(author|writer)['’]s\s+(view|opinion|argument|position|point|thesis|claim|take|assessment)\b",
    re.I,
)


_DOCUMENT_NOUN = re.compile(
    r"\b(article|articles|piece|story|op-?ed|column|post|essay|commentary|editorial|blog|byline|outlet)\b",
    re.I,
)
# A quoted title, to its last closing quote: an apostrophe inside ("North Korea's") does not end it.
_QUOTED = re.compile(r"\"([^\"]{8,})\"|“([^”]{8,})”|‘(.{8,})’|'(.{8,})'")
_FIELD_TERMS = {
    "who", "wrote", "write", "written", "writer", "author", "authored", "penned", "publish", "published",
    "publisher", "publication", "date", "when", "post", "posted", "appear", "appeared", "first", "url",
    "web", "address", "link", "website", "site", "outlet", "name", "newspaper", "magazine",
}  # fmt: skip


def about_a_document(question: str, library: Library) -> bool:
    """Whether a question that names a metadata field is about one of the indexed documents: it
    says so ("the article", "this piece"), quotes one's title, or asks nothing else ("Who wrote it?").
    "Who wrote the Nong Shu?" and "When was the European Convention written?" are about the content.
    """
    if _DOCUMENT_NOUN.search(question):
        return True
    for groups in _QUOTED.findall(question):
        wanted = set(terms(" ".join(groups)))
        for source in library.sources():
            title = set(terms(library.metadata(source).title or ""))
            # Jaccard similarity: the title itself, not a work that shares two of its words
            if wanted and len(wanted & title) >= 0.6 * len(wanted | title):
                return True
    rest = {t for t in terms(question) if t not in _FIELD_TERMS and stem(t) not in _FIELD_TERMS}
    return not rest


def metadata_field(question: str) -> str | None:
    """The metadata field a question asks about, or ``None`` for a question about what the articles
    say: "Who wrote it?" asks for the author, "What does the author say about Iran?" does not.

    >>> metadata_field("Who is the author of the article?"), metadata_field("What does the author argue about Iran?")
    ('author', None)
    """
    if _FIELD_AS_SPEAKER.search(question) and not re.search(r"\bwho (wrote|is|was)\b", question, re.I):
        return None
    return next((name for name, pattern in _METADATA.items() if pattern.search(question)), None)


def values(text: str, kind: str | None, focus: set[str] | None = None) -> frozenset[str]:
    """What a sentence says for the kind of question: its quantities, or its dates.

    With ``focus`` (the question's terms), a quantity counts only when one of the three words after
    it is a focus term or a name ("3,000 North Korean soldiers"), or when it ends the clause:
    "12,000 troops" and "the number at 12,000." are about troops, "13,000 containers" is not.

    >>> sorted(values("signed in June 2023, not in March", "when"))
    ['June 2023', 'March']
    >>> sorted(values("3,000 North Korean soldiers and 13,000 containers; the number at 12,000.", "how_many", {"soldier"}))
    ['12000', '3000']
    """
    if kind == "how_many":
        found = set()
        for value in numbers(text):
            if focus is None:
                found.add(value)
                continue
            for match in re.finditer(
                rf"(?<![\d,]){re.escape(_display(value))}(?![\d,]\d)|(?<![\d,]){value}(?!\d)", text
            ):
                after = text[match.end() :]
                if _is_date_part(text[: match.start()], match.group(), after):
                    continue  # "October 3", "8th October": a day of the month, not a count
                following = " ".join(after.split()[:3])
                if (
                    re.match(r"\s*([.;:!?)]|$)", after)
                    or set(terms(following)) & focus
                    or re.match(r"\s*[A-Z]", after)
                ):
                    found.add(value)
        return frozenset(found)
    if kind == "when":
        return frozenset(
            re.sub(r"\s+", " ", m.group()).replace(",", "") for m in _DATE_EXPRESSION.finditer(text)
        )
    return frozenset()


_MONTH_NAMES = "|".join(MONTHS) + "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"


def _is_date_part(before: str, number: str, after: str) -> bool:
    """Whether ``number``, between ``before`` and ``after``, is a day of the month or an ordinal.

    >>> _is_date_part("on October ", "3", ". On"), _is_date_part("On ", "8", "th October")
    (True, True)
    >>> _is_date_part("sent ", "3,000", " troops"), _is_date_part("by November ", "1,500", " soldiers")
    (False, False)
    """
    if re.match(r"(st|nd|rd|th)\b", after, re.I):
        return True
    if not re.fullmatch(r"\d{1,2}", number):
        return False  # 1,500 or 2024 is no day of the month
    if re.search(rf"\b({_MONTH_NAMES})\.?\s*$", before, re.I):
        return True
    return re.match(rf"\s+(of\s+)?({_MONTH_NAMES})\b", after, re.I) is not None


def line_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans of the whole lines (paragraphs) that hold ``text[start:end]``.

    >>> text = "A one. A two.\\nB one. B two."
    >>> [text[a:b] for a, b in line_sentences(text, 16, 20)]
    ['B one.', 'B two.']
    """
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return split_sentences(text, line_start, len(text) if line_end < 0 else line_end)


def compared_texts(text: str, source: str, metadata: DocumentMetadata) -> list[str]:
    """Every text of a document whose embedding an extractive answer may compare with a question:
    each sentence of ``MIN_SENTENCE_WORDS`` words or more, alone and read after the sentence before
    it (in its paragraph, or the last of the paragraph before: a passage may start at either), the
    document's description and the sentences its metadata answers quote. The index stores their vectors, so that at question time only the
    question is embedded (a text not stored is embedded then, and cached).

    >>> compared_texts("One two three four five.\\nSix seven eight nine ten.", "a.txt", DocumentMetadata())
    ['One two three four five.', 'Six seven eight nine ten.', 'One two three four five. Six seven eight nine ten.', 'a.txt']
    """
    found: list[str] = []
    previous = ""
    for line in re.finditer(r"[^\n]+", text):
        spans = split_sentences(text, line.start(), line.end())
        for i, (start, end) in enumerate(spans):
            sentence = text[start:end]
            before = text[spans[i - 1][0] : spans[i - 1][1]] if i > 0 else previous
            if len(sentence.split()) >= MIN_SENTENCE_WORDS:
                found.append(sentence)
                if i == 0 and previous:  # read after the paragraph before, and alone (no sentence before)
                    found.append(f"{previous} {sentence}")
                elif before:
                    found.append(f"{before} {sentence}")
        if spans:
            previous = text[spans[-1][0] : spans[-1][1]]
    found.append(describe(source, metadata))
    if text.strip():  # the sentences metadata answers quote, however short
        found += [text[a:b] for a, b in (field_quote(text, metadata, f) for f in metadata.fields())]
    return list(dict.fromkeys(found))


def field_quote(text: str, metadata: DocumentMetadata, field: str) -> tuple[int, int]:
    """The span a metadata answer quotes for ``field``: the sentence that states it; for a field
    from a sidecar, the title line, or the opening sentence of a document that has none."""
    start, end = metadata.spans.get(field) or metadata.spans.get("title") or split_sentences(text)[0]
    sentences = line_sentences(text, start, end)
    first = next((a for a, b in sentences if a <= start < b), start)
    last = next((b for a, b in sentences if a < end <= b), end)
    return first, last


def describe(source: str, metadata: DocumentMetadata) -> str:
    """What a question about a document's metadata is compared with: its fields, or its name."""
    return " ".join(metadata.fields().values()) or source


def _display(value: str) -> str:
    return f"{int(value):,}" if value.isdigit() else value


@dataclass
class Candidate:
    span: Span
    text: str
    cosine: float
    coverage: float
    bonus: float
    rank: int

    @property
    def confidence(self) -> float:
        """How sure we are the sentence answers: what abstention compares with its threshold."""
        return COSINE_WEIGHT * self.cosine + (1 - COSINE_WEIGHT) * self.coverage

    @property
    def score(self) -> float:
        return self.confidence + self.bonus


class ExtractiveAnswerer:
    """Answers with the source sentences themselves; see the module docstring."""

    name = "extractive"

    def stream(self, question: Resolved, passages: list[Passage], library: Library) -> Iterator[Drafted]:
        """The answer sentence by sentence (it is chosen whole before the first is yielded)."""
        yield from self.draft(question, passages, library).stream()

    def draft(self, question: Resolved, passages: list[Passage], library: Library) -> Draft:
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
            if other.span.source != best.span.source and other.score >= SECOND_SOURCE_RATIO * best.score:
                chosen.append(other)
                break
        if kind == "who":
            known = names(question.query) | names(question.query.lower().title())
            return Draft([self._with_speaker(c, known, library) for c in chosen], assessment=assessment)
        return Draft([DraftSentence(c.text, [c.span]) for c in chosen], assessment=assessment)

    def candidates(self, question: Resolved, passages: list[Passage], library: Library) -> list[Candidate]:
        """The sentences of the passages (and their neighbours) scored against the question, best first."""
        candidates = self._score(question, self._sentences(passages, library), library)
        candidates.sort(key=lambda c: c.score, reverse=True)
        return candidates

    def assess(self, question: Resolved, passages: list[Passage], library: Library) -> Assessment:
        """How likely the passages are to answer the question (for answers another answerer wrote)."""
        return assess(question, self.candidates(question, passages, library), passages, library)

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
        ][-SPEAKER_LOOKBACK:]
        for start, end in reversed(before):
            if names_someone(text[start:end], known):
                return DraftSentence(text[start : span.end], [Span(span.source, start, span.end)])
        return DraftSentence(candidate.text, [span])

    # --- sentences and their scores

    @staticmethod
    def _sentences(passages: list[Passage], library: Library) -> list[tuple[Span, str, str, int]]:
        """``(span, sentence, previous sentence, passage rank)`` for the passages' sentences and
        ``NEIGHBOURS`` more on each side, within the document's paragraphs; none that speaks to the
        software reading it."""
        seen: set[Span] = set()
        found = []
        for passage in passages:
            text = library.text(passage.source)
            spans = line_sentences(text, passage.start, passage.end)
            inside = [i for i, (a, b) in enumerate(spans) if passage.start <= a and b <= passage.end]
            if not inside:
                continue
            chosen = range(max(0, inside[0] - NEIGHBOURS), min(len(spans), inside[-1] + NEIGHBOURS + 1))
            planted = addressed_in(text, spans)
            for i in chosen:
                start, end = spans[i]
                span = Span(passage.source, start, end)
                sentence = text[start:end]
                if span in seen or len(sentence.split()) < MIN_SENTENCE_WORDS or planted[i]:
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
        weight = FOLLOWUP_CONTEXT_WEIGHT if question.is_followup else 0.0

        idf = {t: library.idf(t) for t in focus}  # weighed once per question, not per sentence
        asked_total, context_total = sum(idf[t] for t in asked), sum(idf[t] for t in context)

        def coverage(wanted: set[str], total: float, have: set[str]) -> float:
            return sum(idf[t] for t in wanted & have) / total if total else 0.0

        candidates = []
        for (span, sentence, _previous, rank), alone, with_previous in zip(
            sentences, own, contextual, strict=True
        ):
            cosines_ = [max(a, b - CONTEXT_DISCOUNT) for a, b in zip(alone, with_previous, strict=True)]
            have = set(terms(sentence))
            cosine = (1 - weight) * cosines_[0] + weight * cosines_[-1]
            cover = (
                (1 - weight) * coverage(asked, asked_total, have)
                + weight * coverage(context, context_total, have)
                if context
                else coverage(asked, asked_total, have)
            )
            bonus = KIND_BONUS if kind and values(sentence, kind, focus) else 0.0
            candidates.append(Candidate(span, sentence, cosine, cover, bonus, rank))
        return candidates

    # --- conflicting sources

    @staticmethod
    def _conflict(
        candidates: list[Candidate], kind: str | None, focus: set[str], library: Library
    ) -> Draft | None:
        """Quote each article's differing figure or date, and say that they differ."""
        if kind is None:
            return None
        best = candidates[0]
        picked: list[tuple[Candidate, frozenset[str]]] = []
        covered: set[str] = set()
        for candidate in candidates:
            close = candidate.score >= best.score - CONFLICT_MARGIN
            if not close and candidate.cosine < best.cosine - CONFLICT_COSINE_MARGIN:
                continue
            found = values(candidate.text, kind, focus)
            if found and not found <= covered:
                picked.append((candidate, found))
                covered |= found
            if len(picked) == library.settings.max_answer_sentences:
                break
        if len(picked) < 2 or len({c.span.source for c, _ in picked}) < 2:
            return None
        sentences = [DraftSentence(c.text, [c.span]) for c, _ in picked]
        listed: list[str] = []
        spans: list[Span] = []
        for candidate, found in picked:
            for value in sorted(found - set(listed), key=lambda v: candidate.text.find(v)):
                listed.append(value)
            spans.append(candidate.span)
        noun = "figures" if kind == "how_many" else "dates"
        shown = [_display(v) for v in listed]
        summary = f"The sources give different {noun}: {', '.join(shown[:-1])} and {shown[-1]}."
        sentences.append(DraftSentence(summary, spans))
        return Draft(sentences)

    # --- questions about the articles themselves

    @staticmethod
    def _metadata_answer(question: Resolved, field: str, passages: list[Passage], library: Library) -> Draft:
        import numpy as np

        sources, _, matrix, described_terms = library.described()
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


def _abstains(assessment: Assessment, best: Candidate, settings: Settings) -> bool:
    """Whether to refuse. Either way, a question that names someone or something (or gives a
    figure) that no indexed document mentions at all cannot be answered from them."""
    if assessment.unknown:
        return True
    if settings.abstention == "score":  # the previous default, kept to compare against
        return best.confidence < settings.refusal_threshold
    return assessment.confidence < abstain_threshold(settings)


def _refusal_reason(assessment: Assessment) -> str:
    if assessment.unknown:
        shown = ", ".join(w.title() if not w.isdigit() else _display(w) for w in assessment.unknown)
        return f"The articles never mention {shown}; the closest passages are listed below."
    return "The closest passages are listed below."


def _long_date(iso: str) -> str:
    """``2024-07-05`` as ``July 5, 2024``."""
    year, month, day = (int(part) for part in iso.split("-"))
    return f"{MONTHS[month - 1].title()} {day}, {year}"
