"""Answers as HTML for the chat: ``[n]`` markers as links to the cited span, source cards,
refusals, confidence, removed sentences, notices, and an answer while it streams. Every text that
comes from a document or a user is escaped, and its control characters made visible."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from core.display import visible
from qa.answer import render_sentence
from qa.schema import NoticeEvent, SentenceEvent, TokenEvent

if TYPE_CHECKING:
    from index.metadata import DocumentMetadata
    from qa.schema import Answer, AnswerSentence, Citation, Passage


log = logging.getLogger("app")


DOC_ROUTE = "doc"  # the document view lives at /doc/{source}; links to it are relative to the page
SNIPPET_CHARS = 280


# --- rendering answers as HTML for the Chatbot (every text from a document or user is escaped)

_MARKER = re.compile(r"\[(\d+)\]")


def escape_html(text: str, quote: bool = True) -> str:
    """HTML-escaped text, its control characters made visible (``\\x1b``): nothing raw reaches the page."""
    return html.escape(visible(text), quote=quote)


def esc(text: str) -> str:
    """HTML-escaped text with its whitespace runs collapsed: ``'a <b>\\n c'`` → ``'a &lt;b&gt; c'``."""
    return escape_html(" ".join(text.split()))


def shown_title(title: str | None, meta: DocumentMetadata | None, source: str) -> str:
    """What titles a source: its title, else its metadata's, else its file name made visible
    (``'new\\nline.txt'``: a name's line breaks and direction controls never reach the page raw)."""
    return title or (meta.title if meta else None) or visible(source, one_line=True)


def doc_href(source: str, start: int | None = None, end: int | None = None) -> str:
    """The document view's link, relative to the page.

    >>> doc_href("001 a.txt", 673, 724)
    'doc/001%20a.txt?start=673&end=724#cited'
    >>> doc_href("new\\nline\\u202e.txt")  # every character of the name quoted; /doc reads it back
    'doc/new%0Aline%E2%80%AE.txt'
    """
    href = f"{DOC_ROUTE}/{quote(source, safe='/')}"
    if start is not None and end is not None:
        href += f"?start={start}&end={end}#cited"
    return href


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) address, else ``None`` (no ``javascript:`` links)."""
    if url and urlsplit(url).scheme in ("http", "https"):
        return url
    return None


def link(href: str, text: str, cls: str, title: str | None = None) -> str:
    """An anchor that opens in a new tab; ``href`` and ``title`` are escaped, ``text`` is HTML."""
    hint = f' title="{escape_html(title, quote=True)}"' if title else ""
    return (
        f'<a class="{cls}" href="{escape_html(href, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer"{hint}>{text}</a>'
    )


def cite_link(citation: Citation, meta: DocumentMetadata | None = None) -> str:
    """``[n]`` as a link to the cited span, with a popover (shown on hover, focus or a first tap)
    holding the quote, the title and the publisher; the page opens the link in its side panel."""
    title = shown_title(citation.title, meta, citation.source)
    by = byline(meta)
    pop = (
        f'<span class="qa-pop" role="tooltip"><span class="qa-pop-title">{esc(title)}</span>'
        + (f'<span class="qa-pop-by">{esc(by)}</span>' if by else "")
        + f'<span class="qa-pop-quote">“{esc(citation.quote)}”</span></span>'
    )
    href = doc_href(citation.source, citation.start, citation.end)
    label = escape_html(f"Source {citation.n}: {title}", quote=True)
    return (
        f'<a class="qa-cite" href="{escape_html(href, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer" aria-label="{label}">[{citation.n}]{pop}</a>'
    )


def link_markers(
    text: str, citations: Sequence[Citation], metadata: Mapping[str, DocumentMetadata] | None = None
) -> str:
    """The answer text escaped, each ``[n]`` a link to the cited span in the document view.

    ``"A <b> [1]."`` → ``'A &lt;b&gt; <a class="qa-cite" href="doc/a.txt?start=0&amp;end=2#cited"
    …>[1]<span class="qa-pop" …>…</span></a>.'``; an ``[n]`` with no citation ``n`` stays text.
    """
    by_n = {c.n: c for c in citations}
    parts: list[str] = []
    last = 0
    for match in _MARKER.finditer(text):
        parts.append(esc_keep_spaces(text[last : match.start()]))
        citation = by_n.get(int(match.group(1)))
        if citation is None:
            parts.append(escape_html(match.group(0)))
        else:
            parts.append(cite_link(citation, (metadata or {}).get(citation.source)))
        last = match.end()
    parts.append(esc_keep_spaces(text[last:]))
    return "".join(parts)


def esc_keep_spaces(text: str) -> str:
    """Like :func:`esc` but keeping a leading or trailing space, for pieces of a sentence."""
    lead = " " if text[:1].isspace() else ""
    trail = " " if text[-1:].isspace() and text.strip() else ""
    return lead + esc(text) + trail


def byline(meta: DocumentMetadata | None) -> str:
    """``'Bloomberg Opinion · Hal Brands · 2024-07-05'`` from what the metadata knows."""
    if meta is None:
        return ""
    return " · ".join(part for part in (meta.publisher, meta.author, meta.date) if part)


def source_links(source: str, start: int, end: int, url: str | None) -> str:
    """The two links of a source: the local document view and, where known, the original article."""
    links = [link(doc_href(source, start, end), "view in document", "qa-doc-link")]
    if original := safe_url(url):
        links.append(link(original, "original article ↗", "qa-url"))
    return " · ".join(links)


def support_title(judge: str | None) -> str:
    """What a citation's score means, for the title of its label."""
    who = f"The {judge} judge's" if judge else "The support judge's"
    return (
        f"{who} score (0 to 1) that the quoted words state the sentence citing them. "
        "It checks the quote against the sentence; it does not say that the answer is right "
        "or that it answers the question."
    )


def render_citation(citation: Citation, meta: DocumentMetadata | None, judge: str | None = None) -> str:
    """One entry of an answer's source list."""
    title = shown_title(citation.title, meta, citation.source)
    url = citation.url or (meta.url if meta else None)
    hint = escape_html(support_title(judge), quote=True)
    return (  # a compact card: number, title and publisher; the quote and links when opened
        f'<details class="qa-source"><summary><span class="qa-n">[{citation.n}]</span> '
        f'<span class="qa-title">{esc(title)}</span> <span class="qa-by">{esc(byline(meta))}</span></summary>'
        f'<div class="qa-quote">{esc(citation.quote)}</div>'
        f'<span class="qa-score" title="{hint}">quote support {citation.score:.2f}</span> · '
        f"{source_links(citation.source, citation.start, citation.end, url)}</details>"
    )


def render_passage(passage: Passage, meta: DocumentMetadata | None) -> str:
    """One retrieved passage: title, snippet, retrieval scores and links."""
    title = shown_title(passage.title, meta, passage.source)
    url = passage.url or (meta.url if meta else None)
    snippet = " ".join(passage.text.split())
    if len(snippet) > SNIPPET_CHARS:
        snippet = snippet[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
    scores = [f"score {passage.score:.4f}"]
    if passage.dense_score is not None:
        scores.append(f"dense {passage.dense_score:.3f}")
    if passage.bm25_score is not None:
        scores.append(f"bm25 {passage.bm25_score:.2f}")
    return (
        f'<div class="qa-source"><span class="qa-n">#{passage.rank}</span> '
        f'<span class="qa-title">{esc(title)}</span> <span class="qa-by">{esc(byline(meta))}</span>'
        f'<div class="qa-quote">{esc(snippet)}</div>'
        f'<span class="qa-score">{" · ".join(scores)}</span> · '
        f"{source_links(passage.source, passage.start, passage.end, url)}</div>"
    )


def render_refusal(answer: Answer, metadata: Mapping[str, DocumentMetadata]) -> str:
    """A refused answer: a distinct block saying the sources do not answer, then the closest passages."""
    closest = "".join(render_passage(p, metadata.get(p.source)) for p in answer.passages)
    block = (
        '<div class="qa-refusal"><div class="qa-refusal-head">The sources do not answer this question.</div>'
        f"<div>{esc(answer.text)}</div></div>"
    )
    if closest:
        block += f'<div class="qa-sources"><div class="qa-sources-head">Closest passages</div>{closest}</div>'
    return block


CONFIDENCE_TITLE = (
    "The probability that this answers the question, from a model trained on questions with known "
    "answers (half of them unanswerable) and checked on questions it never saw. It is about the "
    "answer, not about the quotes: a quote always matches its own words."
)


def render_confidence(answer: Answer) -> str:
    """How likely the answer is to be right; marked 'Not sure' when low (see :func:`render_closest`)."""
    if answer.confidence is None:
        return ""
    line = (
        f'<span class="qa-confidence" title="{escape_html(CONFIDENCE_TITLE, quote=True)}">'
        f"Confidence {100 * answer.confidence:.0f}% that this answers the question</span>"
    )
    if not answer.unsure:
        return f"<div>{line}</div>"
    return (
        '<div class="qa-unsure"><div class="qa-unsure-head">Not sure: the sources may not answer this.</div>'
        f"{line}</div>"
    )


def render_closest(answer: Answer, metadata: Mapping[str, DocumentMetadata]) -> str:
    """For an answer marked 'Not sure': the closest passages it did not cite, after its sources."""
    if not answer.unsure:
        return ""
    cited = {(c.source, c.start) for c in answer.citations}
    closest = "".join(
        render_passage(p, metadata.get(p.source))
        for p in answer.passages[:3]
        if (p.source, p.start) not in cited
    )
    if not closest:
        return ""
    return (
        '<div class="qa-closest"><div class="qa-sources-head">Closest passages '
        "(the answer may be in one of these, or in none)</div>"
        f"{closest}</div>"
    )


def render_passages(answer: Answer, metadata: Mapping[str, DocumentMetadata]) -> str:
    """The retrieved passages with their scores, folded away under a summary."""
    items = "".join(render_passage(p, metadata.get(p.source)) for p in answer.passages)
    return (
        f'<details class="qa-passages"><summary>Retrieved passages ({len(answer.passages)})</summary>'
        f"{items}</details>"
    )


def render_sentence_html(
    sentence: AnswerSentence,
    citations: Sequence[Citation],
    judge: str | None,
    metadata: Mapping[str, DocumentMetadata] | None = None,
) -> str:
    """One verified sentence with its ``[n]`` links; one the judge did not support is marked so.

    ``AnswerSentence(text="It was 12,000.", citations=[1], support=0.2, supported=False)`` →
    ``'<span class="qa-unsupported" title="…0.20…">It was 12,000 <a …>[1]</a>. <span
    class="qa-unsupported-label">unsupported</span></span>'``
    """
    shown = link_markers(render_sentence(sentence), citations, metadata)
    if sentence.supported:
        return shown
    who = f"the {judge} judge" if judge else "the support judge"
    hint = (
        f"Not supported by the quotes it cites: {who} scored it {sentence.support:.2f}, "
        "below its threshold. The sources may not say this."
    )
    return (
        f'<span class="qa-unsupported" title="{escape_html(hint, quote=True)}">{shown} '
        '<span class="qa-unsupported-label">unsupported</span></span>'
    )


def render_sources(
    citations: Sequence[Citation],
    metadata: Mapping[str, DocumentMetadata],
    judge: str | None = None,
    grounding: float | None = None,
) -> str:
    """The source list; its header names the judge once the answer is done. ``grounding`` (how well
    the quotes support the sentences) is not shown: a verbatim quote supports itself, so it says
    nothing about whether the answer is right (:func:`render_confidence` does)."""
    if not citations:
        return ""
    entries = "".join(render_citation(c, metadata.get(c.source), judge) for c in citations)
    notes = [f"quotes checked by the {judge} judge"] if judge else []
    head = "Sources" + (f' <span class="qa-judge">{esc(" · ".join(notes))}</span>' if notes else "")
    return f'<div class="qa-sources"><div class="qa-sources-head">{head}</div>{entries}</div>'


def render_dropped(dropped: Sequence[AnswerSentence], judge: str | None = None) -> str:
    """The sentences removed as unsupported, with their scores, folded away under a summary."""
    if not dropped:
        return ""
    label = f"{judge} judge score" if judge else "judge score"
    items = "".join(
        f'<div class="qa-dropped-sentence">{esc(s.text)} '
        f'<span class="qa-score">{esc(label)} {s.support:.2f}</span></div>'
        for s in dropped
    )
    return (
        f'<details class="qa-dropped"><summary>Removed as unsupported by the sources ({len(dropped)})'
        f"</summary>{items}</details>"
    )


def render_notices(notices: Iterable[str | None]) -> str:
    """Why the answer is not what was asked for (an LLM that failed, a fallback), above it."""
    return "".join(f'<div class="qa-notice">{esc(n)}</div>' for n in notices if n)


def render_answer(
    answer: Answer,
    metadata: Mapping[str, DocumentMetadata],
    *,
    show_passages: bool = False,
) -> str:
    """A finished answer as the Chatbot shows it: how sure it is first, then the answer, its
    sources (compact cards), what was removed, and the answerer (ui/conversations.py adds the time).

    One HTML block with no blank line, so the Chatbot's Markdown leaves it alone.
    """
    body = render_notices([answer.notice])
    if answer.refused:
        body += render_refusal(answer, metadata)
    else:
        if answer.sentences:
            text = " ".join(
                render_sentence_html(s, answer.citations, answer.judge, metadata) for s in answer.sentences
            )
        else:  # an answer made without the builder: its text is all there is
            text = link_markers(answer.text, answer.citations, metadata)
        body += render_confidence(answer)
        body += f'<div class="qa-answer">{text}</div>'
        body += render_sources(answer.citations, metadata, answer.judge, answer.grounding)
        body += render_closest(answer, metadata)
    body += render_dropped(answer.dropped, answer.judge)
    notes = [f"answerer {answer.answerer}"]
    if answer.fallback_from:
        notes.append(f"in place of {answer.fallback_from}")
    if answer.resolved_question:
        notes.append(f"searched for: {answer.resolved_question}")
    body += f'<div class="qa-meta">{esc(" · ".join(notes))}</div>'
    if show_passages and answer.passages:
        body += render_passages(answer, metadata)
    low = " qa-low" if answer.unsure else ""
    return f'<div class="qa-message{low}">{body}</div>'


def render_notice(message: str, cls: str = "qa-error") -> str:
    """A message in place of an answer (an error, the index being built)."""
    return f'<div class="qa-message"><div class="{cls}">{esc(message)}</div></div>'


# --- an answer while it streams

_RAW_MARKERS = re.compile(r"\s*\[[\d,;\s]*\]?")  # an LLM's own [1], [1, 2], or one half written ("[1")
_LEADING_MARKERS = re.compile(r"(?:\s*\[[\d,;\s]*\])*")


def text_after(raw: str, sentence: str) -> str:
    """What follows ``sentence`` in the answerer's ``raw`` text, the markers it carried skipped.

    A verified sentence comes without the markers, bullets and spacing the LLM wrote, and after the
    first words of the next one; its characters are found in order in ``raw``.

    >>> text_after("It was 12,000 [1]. [2] Then", "It was 12,000.")
    ' Then'
    >>> text_after("It was 12,000.", "It was 12,000.")
    ''
    """
    end = 0
    for char in "".join(sentence.split()):
        found = raw.find(char, end)
        if found < 0:
            return ""
        end = found + 1
    rest = raw[end:]
    markers = _LEADING_MARKERS.match(rest)
    return rest[markers.end() :] if markers else rest


@dataclass
class Pending:
    """An answer while it streams: the sentences verified so far, and the text being written after
    them. ``add`` takes every event but the last (:class:`~qa.schema.AnswerEvent`)."""

    sentences: list[AnswerSentence] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    dropped: list[AnswerSentence] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    tail: str = ""  # the answerer's raw text after the last verified sentence

    def add(self, event: TokenEvent | SentenceEvent | NoticeEvent) -> None:
        if isinstance(event, TokenEvent):
            self.tail += event.text
        elif isinstance(event, SentenceEvent):
            self.tail = text_after(self.tail, event.sentence.text)
            if event.kept:
                self.sentences.append(event.sentence)
                self.citations.extend(event.citations)
            else:
                self.dropped.append(event.sentence)
        elif event.restart:  # what was streamed is replaced by the answer that follows
            self.sentences, self.citations, self.dropped, self.tail = [], [], [], ""
            self.notices.append(event.message)
        else:
            self.notices.append(event.message)

    @property
    def sources(self) -> set[str]:
        return {c.source for c in self.citations}


def render_pending(pending: Pending, metadata: Mapping[str, DocumentMetadata]) -> str:
    """The answer so far: verified sentences with their links and sources, then the raw text being
    written (escaped, the LLM's own markers left out). No ``qa-meta`` line: that ends an answer."""
    body = render_notices(pending.notices)
    shown = [render_sentence_html(s, pending.citations, None, metadata) for s in pending.sentences]
    if tail := _RAW_MARKERS.sub("", pending.tail).strip():
        shown.append(f'<span class="qa-writing">{esc(tail)}</span>')
    if shown:
        body += f'<div class="qa-answer">{" ".join(shown)}</div>'
    else:
        body += '<div class="qa-status">Writing the answer…</div>'
    body += render_sources(pending.citations, metadata)
    body += render_dropped(pending.dropped)
    return f'<div class="qa-message">{body}</div>'
