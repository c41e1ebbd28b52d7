"""The generative answerer: an LLM writes the answer from numbered passages, citing them as ``[n]``.

What it does: shows the model the first ``Settings.llm_passages`` passages, numbered and quoted as
data (``prompts/answer.toml``); streams the model's text as it comes; cuts it into sentences as
each one finishes; and maps every ``[n]`` to the exact sentence (or two) of passage ``n`` that
best matches the claim, as character offsets into the source file. Verification is not done here:
the pipeline's :class:`~qa.answer.AnswerBuilder` judges each sentence as it arrives.

What it does not do: trust the model's numbers blindly (a marker that names no passage is
ignored, and an uncited sentence is matched against every passage shown) or follow text inside a
passage (passages are data; angle brackets are neutralised so a document cannot close its tag).

    >>> cited_sentences("Ukraine says 12,000 [1]. The U.S. says 10,000. [2] Both")
    [('Ukraine says 12,000.', [1]), ('The U.S. says 10,000.', [2]), ('Both', [])]
    >>> cited_sentences("It was 12,000.Others said 3,000.")
    [('It was 12,000.', []), ('Others said 3,000.', [])]
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from core.lexical import terms
from index.injection import addressed_in
from index.sentences import split_sentences
from index.texts import line_sentences
from qa.answer import Drafted, DraftSentence, Library, Refusal, Span
from qa.followup import History, Resolved
from qa.llm import LLM
from qa.prompts import Prompt
from qa.schema import Passage

NOT_IN_SOURCES = "NOT IN SOURCES"
_MARKERS = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_PARTIAL_MARKER = re.compile(r"\s*\[[\d,;\s]*$")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
# A small model may run sentences together ("at 12,000.Ukrainian"): a stop after a lower-case
# word, a number or a marker, straight before a capital, ends a sentence all the same.
_RUN_TOGETHER = re.compile(r"(?<=[a-z0-9\]\)\"”’'])([.!?])(?=[A-Z])")
MIN_MATCH = 0.35  # an uncited sentence is matched to a passage sentence only above this score
SECOND_SPAN_GAIN = 0.15  # a second sentence of the passage is cited when it adds this much coverage


def _numbers(markers: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", markers)]


def cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """The sentences of an LLM answer, each without its ``[n]`` markers and with their numbers.

    A marker after the full stop (``…10,000. [2]``) belongs to the sentence before it; ``[1, 2]``
    and ``[1][2]`` both cite two passages.
    """
    text = _RUN_TOGETHER.sub(r"\1 ", text)
    spans = split_sentences(text)
    found: list[tuple[str, list[int]]] = []
    for start, end in spans:
        piece = text[start:end]
        leading = _LEADING_MARKERS.match(piece)
        if leading and found:
            found[-1][1].extend(n for n in _numbers(leading.group()) if n not in found[-1][1])
            piece = piece[leading.end() :]
        numbers: list[int] = []
        for match in _MARKERS.finditer(piece):
            numbers.extend(n for n in _numbers(match.group(1)) if n not in numbers)
        clean = _MARKERS.sub("", piece)
        clean = _BULLET.sub("", re.sub(r"\s+([.,;:!?])", r"\1", clean)).strip()
        if clean:
            found.append((clean, numbers))
        elif numbers and found:
            found[-1][1].extend(n for n in numbers if n not in found[-1][1])
    return found


class SentenceCutter:
    """Feeds on streamed text and hands back each sentence once the next one has begun.

    >>> cutter = SentenceCutter()
    >>> cutter.feed("It was 12,000. [")
    []
    >>> cutter.feed("1] Others")
    [('It was 12,000.', [1])]
    >>> cutter.finish()
    [('Others', [])]
    """

    def __init__(self) -> None:
        self.text = ""
        self.done = 0

    def feed(self, delta: str) -> list[tuple[str, list[int]]]:
        """The sentences finished by ``delta``: those followed by the words of another. A marker
        still being written ("[", "[1") does not start a sentence; a whole one joins the last."""
        self.text += delta
        sentences = cited_sentences(_PARTIAL_MARKER.sub("", self.text))
        ready = sentences[self.done : len(sentences) - 1]
        self.done += len(ready)
        return ready

    def finish(self) -> list[tuple[str, list[int]]]:
        rest = cited_sentences(self.text)[self.done :]
        self.done += len(rest)
        return rest


def quote_passages(passages: Sequence[Passage], library: Library) -> str:
    """The passages as the prompt shows them: numbered, titled, and quoted as data."""
    blocks = []
    for n, passage in enumerate(passages, start=1):
        meta = library.metadata(passage.source)
        about = "; ".join(
            f"{name}: {value}"
            for name, value in (("title", meta.title), ("publisher", meta.publisher), ("date", meta.date))
            if value
        )
        text = passage.text.replace("<", "‹").replace(">", "›")
        blocks.append(f'<passage n="{n}"{" " + _attribute(about) if about else ""}>\n{text}\n</passage>')
    return "\n\n".join(blocks)


def _attribute(about: str) -> str:
    return 'about="' + about.replace('"', "'").replace("<", "‹").replace(">", "›") + '"'


def passage_sentences(passage: Passage, library: Library) -> list[Span]:
    """The sentences of a passage as exact spans of its source file, but those that speak to the
    software reading it (:mod:`index.injection`): a claim they alone back has no source."""
    text = library.text(passage.source)
    spans = line_sentences(text, passage.start, passage.end)
    return [
        Span(passage.source, a, b)
        for (a, b), planted in zip(spans, addressed_in(text, spans), strict=True)
        if passage.start <= a and b <= passage.end and planted is None
    ]


def match_spans(claim: str, numbers: list[int], shown: Sequence[Passage], library: Library) -> list[Span]:
    """The exact sentences that back ``claim``: the best-matching sentence of each passage it
    cites (plus the next best when that adds to what is covered), or, for a sentence that cites
    no passage shown, the best sentence of any passage when it matches well enough. A small
    model miscounts: when no sentence of the passages it cites matches well enough, the claim
    is matched against every passage shown instead."""
    cited = [shown[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(shown)]
    if cited:
        found = _match(claim, cited, library, require=True)
        if found:
            return found
    return _match(claim, list(shown), library, require=False)


def _match(claim: str, cited: list[Passage], library: Library, *, require: bool) -> list[Span]:
    """Best sentences per passage of ``cited`` (``require``: each must reach ``MIN_MATCH``,
    else nothing), or the one best sentence of them all (``require`` off: when it reaches it)."""
    candidates = [
        (span, library.text(span.source)[span.start : span.end])
        for p in cited
        for span in passage_sentences(p, library)
    ]
    if not candidates:
        return []
    wanted = set(terms(claim))
    weights = {t: library.idf(t) for t in wanted}
    total = sum(weights.values()) or 1.0
    vectors = library.embed([claim, *(text for _, text in candidates)])

    def covered(text: str) -> set[str]:
        return wanted & set(terms(text))

    def score(i: int) -> float:
        cosine = max(0.0, sum(a * b for a, b in zip(vectors[0], vectors[i + 1], strict=True)))
        coverage = sum(weights[t] for t in covered(candidates[i][1])) / total
        return 0.5 * cosine + 0.5 * coverage

    scores = [score(i) for i in range(len(candidates))]
    chosen: list[Span] = []
    targets: list[Passage | None] = list(cited) if require else [None]
    for passage in targets:
        indices = [i for i, (span, _) in enumerate(candidates) if passage is None or _inside(span, passage)]
        if not indices:
            continue
        ranked = sorted(indices, key=lambda i: scores[i], reverse=True)
        best = ranked[0]
        if scores[best] < MIN_MATCH:
            return []
        chosen.append(candidates[best][0])
        have = covered(candidates[best][1])
        for other in ranked[1:2]:
            gain = sum(weights[t] for t in covered(candidates[other][1]) - have) / total
            if gain >= SECOND_SPAN_GAIN:
                chosen.append(candidates[other][0])
    return sorted(dict.fromkeys(chosen), key=lambda s: (s.source, s.start))


def _inside(span: Span, passage: Passage) -> bool:
    return span.source == passage.source and passage.start <= span.start and span.end <= passage.end


@dataclass
class LLMAnswerer:
    """Answers with an LLM's own words, each sentence cited to the exact source sentences."""

    llm: LLM
    prompt: Prompt
    max_passages: int = 4
    name: str = "llm"

    def stream(self, question: Resolved, passages: list[Passage], library: Library) -> Iterator[Drafted]:
        if not passages:
            yield Refusal("No passage matched the question.")
            return
        shown = passages[: self.max_passages]
        messages = self.prompt.messages(question=question.query, passages=quote_passages(shown, library))
        cutter = SentenceCutter()
        said: set[str] = set()  # a small model may repeat a sentence: it is verified once
        held: str | None = ""  # text held back while it may still be the refusal phrase; then None
        for delta in self.llm.stream(messages):
            if held is not None:
                held += delta
                start = held.lstrip().upper()
                if start.startswith(NOT_IN_SOURCES):
                    yield Refusal("The model found no answer in the passages.")
                    return
                if NOT_IN_SOURCES.startswith(start):
                    continue
                delta, held = held, None
            yield delta
            for text, numbers in cutter.feed(delta):
                yield from self._sentence(text, numbers, shown, library, said)
        if held is not None and held.strip():  # the whole answer was a prefix of the phrase
            yield held
            cutter.feed(held)
        for text, numbers in cutter.finish():
            yield from self._sentence(text, numbers, shown, library, said)

    @staticmethod
    def _sentence(
        text: str, numbers: list[int], shown: list[Passage], library: Library, said: set[str]
    ) -> Iterator[Drafted]:
        key = " ".join(terms(text))
        if NOT_IN_SOURCES in text.upper() or key in said:
            return
        said.add(key)
        yield DraftSentence(text, match_spans(text, numbers, shown, library))


@dataclass
class LLMRewriter:
    """Makes a follow-up question stand alone with the LLM (``prompts/rewrite.toml``)."""

    llm: LLM
    prompt: Prompt
    max_tokens: int = 60
    turns: int = 4  # the most recent turns shown

    def rewrite(self, question: str, history: History) -> Resolved:
        turns = [(role, text) for role, text in history if text and text.strip()][-self.turns :]
        if not turns:
            return Resolved(question, question, False)
        conversation = "\n".join(
            f"{'User' if role == 'user' else 'Assistant'}: {_MARKERS.sub('', text).strip()[:400]}"
            for role, text in turns
        )
        written = self.llm.complete(
            self.prompt.messages(conversation=conversation, question=question), self.max_tokens
        )
        standalone = written.strip().splitlines()[0].strip().strip('"') if written.strip() else ""
        previous = next((text for role, text in reversed(turns) if role == "user"), None)
        if not standalone or standalone.lower() == question.lower():
            return Resolved(question, question, False, previous)
        return Resolved(question, standalone, True, previous)
