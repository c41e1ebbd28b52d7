"""The chat UI: ask questions about the articles in the browser and get cited answers.

    python app.py                          # http://127.0.0.1:7860
    python app.py --port 8080              # or GRADIO_SERVER_PORT=8080; --host / GRADIO_SERVER_NAME
    QA_DATA_DIR=/tmp/qa python app.py      # any ``QA_`` setting (see qa/settings.py) applies

What it does: a Gradio chat that shows an answer as :meth:`qa.pipeline.Pipeline.stream` yields it:
the answerer's text as it is written, each sentence with its ``[n]`` links and sources once it is
verified, and the finished answer with its source list, the sentences the judge did not support
(marked, or listed as removed) and any notice (an LLM that failed, a fallback); a document view at
``/doc/{source}?start=..&end=..`` that shows an indexed document, HTML-escaped, with the cited span
highlighted; a background build of the index on first start, with its progress on the page. What it
does not do: answer, verify or pace the text. Every word comes from the pipeline as it yields it;
this module only renders it.

Gradio's API stays on. ``/ask`` returns the whole answer as JSON (``Answer.to_dict()``):

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/")
    print(client.predict("Who reported 12,000 troops?", api_name="/ask")["text"])
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from qa.answer import render_sentence
from qa.display import visible
from qa.errors import InvalidRequestError, QAError, UnknownSourceError
from qa.schema import AnswerEvent, NoticeEvent, SentenceEvent, TokenEvent

if TYPE_CHECKING:
    import gradio as gr
    from fastapi import FastAPI

    from index.build import BuildReport
    from index.metadata import DocumentMetadata
    from qa.pipeline import Pipeline, SourceDocument
    from qa.schema import Answer, AnswerSentence, Citation, Passage
    from qa.settings import Settings

log = logging.getLogger("app")

EXAMPLES = [
    "Who reported 12,000 troops?",
    "What did Kremlin spokesman Dmitry Peskov call the reports of North Korean troops?",
    "Near which city were North Korean officers killed on October 3?",
    "What has North Korea given Russia for use in Ukraine?",
    "Who wrote 'Rumor of North Korea Troops in Ukraine Shows Threat to the West'?",
]
DOC_ROUTE = "doc"  # the document view lives at /doc/{source}; links to it are relative to the page
SNIPPET_CHARS = 280
CHAT_TURNS = 20  # earlier turns the chat sends with a question: follow-ups read the last few
ANSWERER_HELP = {  # the settings panel's note on each answerer it lists
    "extractive": "quotes the best source sentences (fast)",
    "llm": "a language model writes the answer (slow on a CPU); each sentence is checked against its "
    "quotes, and when too little holds up the extractive answer is shown instead",
}
DEFAULT_PORT = 7860
DEFAULT_HOST = "127.0.0.1"

Turns = list[list[str]]  # the conversation as the pipeline reads it: [["user", text], ["assistant", text]]
Messages = list[dict[str, str]]  # the Chatbot's value: [{"role": "user", "content": html}, ...]


# --- the index: built in the background on first start, its progress shown on the page


@dataclass
class IndexStatus:
    """Where the index stands, for the page and for questions: ``starting``; ``building`` (with
    progress, nothing to answer from yet); ``ready`` (questions are answered, ``updating`` while a
    build goes on: a large seed still being embedded, a seed edited); or ``failed`` (with a message).

    It listens to the pipeline's builds (:meth:`qa.pipeline.Pipeline.listen`): the first one, the
    seeds watcher's. A build with much to embed publishes the small seeds first, and questions are
    answered from them as soon as it has."""

    state: str = "starting"
    done: int = 0
    total: int = 0
    source: str = ""
    message: str = ""
    documents: int = 0  # documents in the generation answering
    pending: list[str] = field(default_factory=list)  # seeds it does not hold yet, being embedded
    updating: bool = False  # a build runs while questions are answered
    watching: bool = False  # the seeds folder is followed: a build may start at any time
    trouble: str = ""  # why the last update failed (the generation published before answers)
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def ready(self) -> bool:
        """Whether questions can be answered (a generation is published and open)."""
        return self.state == "ready"

    @property
    def failed(self) -> bool:
        return self.state == "failed"

    def progress(self, done: int, total: int, source: str) -> None:
        """A build's progress: ``(texts embedded, texts to embed, document)``."""
        if source != self.source:
            log.info("Building the index: %d of %d texts embedded (%s)", done, total, source)
        self.done, self.total, self.source = done, total, source
        if self.ready:
            self.updating = True
        elif not self.failed:
            self.state = "building"

    def published(self, report: BuildReport) -> None:
        """A build published a generation: questions are answered from it, also while
        ``report.pending`` names seeds still being embedded."""
        self.documents, self.pending, self.trouble = report.documents, list(report.pending), ""
        self.updating = bool(report.pending)
        if report.pending:  # embedded next (smallest first), before its first batch is reported
            self.source = report.pending[0]
        self.message = f"Ready: {report.documents} articles indexed."
        self.state = "ready"
        self._finished.set()

    def stopped(self, error: Exception | None) -> None:
        """A build ended; ``error`` when it failed (the generation published before still answers)."""
        self.updating, self.pending = False, []
        if error is not None:
            self.trouble = str(error)

    def finish(self, message: str) -> None:
        self.state, self.message = "ready", message
        self._finished.set()

    def fail(self, message: str) -> None:
        self.state, self.message = "failed", message
        self._finished.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until questions can be answered or the index has failed; ``True`` when they can."""
        self._finished.wait(timeout)
        return self.ready

    def describe(self) -> str:
        """One line for the page, e.g. ``Indexing big.txt: 1,234 of 40,000 passages embedded;
        answers come from the 5 documents indexed so far.``"""
        if self.failed:
            return self.message
        if self.ready:
            if self.updating and self.total:
                others = [p for p in self.pending if p != self.source]
                then = f", then {', '.join(others)}" if others else ""
                return (
                    f"Indexing {self.source}: {self.done:,} of {self.total:,} passages embedded{then}; "
                    f"answers come from the {self.documents:,} documents indexed so far."
                )
            return self.message + (f" Updating the index failed: {self.trouble}" if self.trouble else "")
        if self.state == "building" and self.total:
            return (
                f"Building the index: {self.done:,} of {self.total:,} passages embedded "
                f"({self.source})… Questions will be answered as soon as the first documents are indexed."
            )
        return "Opening the index (it is built from the seeds folder on first start)…"


def prepare_index(pipeline: Pipeline, status: IndexStatus) -> None:
    """Build the index if there is none or the seeds changed (unless ``QA_AUTO_BUILD`` is off),
    open it, and record the outcome in ``status``, which follows every later build of the pipeline
    too. Questions are answered as soon as the build has published a first generation."""
    pipeline.listen(status)
    settings = pipeline.settings
    status.watching = settings.auto_build and settings.watch_seeds > 0
    try:
        if settings.auto_build:
            try:
                report = pipeline.ensure_index()
            except QAError as error:
                if not status.ready:  # nothing was published to answer from
                    raise
                log.error("The index build stopped: %s", error)  # what it published answers
            else:
                if report is not None:
                    log.info("Index built: %s", report.summary())
        pipeline.load()
        sources = pipeline.sources()
        status.documents = len(sources)
        status.finish(f"Ready: {len(sources)} articles indexed.")
        pipeline.watch_seeds()  # an edited, added or removed seed is indexed; the next question uses it
    except QAError as error:
        log.error("%s", error)
        status.fail(str(error))
    except Exception as error:  # the page must show a message, not hang on "building"
        log.exception("Opening the index failed")
        status.fail(f"Opening the index failed ({type(error).__name__}: {error}); see the server log.")


def start_index(pipeline: Pipeline, status: IndexStatus) -> threading.Thread:
    """Run :func:`prepare_index` in a daemon thread, so the page is up while the index builds."""
    thread = threading.Thread(target=prepare_index, args=(pipeline, status), name="index", daemon=True)
    thread.start()
    return thread


# --- rendering answers as HTML for the Chatbot (every text from a document or user is escaped)

_MARKER = re.compile(r"\[(\d+)\]")


def escape_html(text: str, quote: bool = True) -> str:
    """HTML-escaped text, its control characters made visible (``\\x1b``): nothing raw reaches the page."""
    return html.escape(visible(text), quote=quote)


def esc(text: str) -> str:
    """HTML-escaped text with its whitespace runs collapsed: ``'a <b>\\n c'`` → ``'a &lt;b&gt; c'``."""
    return escape_html(" ".join(text.split()))


def doc_href(source: str, start: int | None = None, end: int | None = None) -> str:
    """The document view's link, relative to the page.

    >>> doc_href("001 a.txt", 673, 724)
    'doc/001%20a.txt?start=673&end=724#cited'
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


def link_markers(text: str, citations: Sequence[Citation]) -> str:
    """The answer text escaped, each ``[n]`` a link to the cited span in the document view.

    ``"A <b> [1]."`` → ``'A &lt;b&gt; <a class="qa-cite" href="doc/a.txt?start=0&amp;end=2#cited"
    …>[1]</a>.'``; an ``[n]`` with no citation ``n`` stays text.
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
            href = doc_href(citation.source, citation.start, citation.end)
            parts.append(link(href, f"[{citation.n}]", "qa-cite", title=citation.quote))
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
    title = citation.title or (meta.title if meta else None) or citation.source
    url = citation.url or (meta.url if meta else None)
    hint = escape_html(support_title(judge), quote=True)
    return (
        f'<div class="qa-source"><span class="qa-n">[{citation.n}]</span> '
        f'<span class="qa-title">{esc(title)}</span> <span class="qa-by">{esc(byline(meta))}</span>'
        f'<div class="qa-quote">{esc(citation.quote)}</div>'
        f'<span class="qa-score" title="{hint}">quote support {citation.score:.2f}</span> · '
        f"{source_links(citation.source, citation.start, citation.end, url)}</div>"
    )


def render_passage(passage: Passage, meta: DocumentMetadata | None) -> str:
    """One retrieved passage: title, snippet, retrieval scores and links."""
    title = passage.title or (meta.title if meta else None) or passage.source
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


def render_sentence_html(sentence: AnswerSentence, citations: Sequence[Citation], judge: str | None) -> str:
    """One verified sentence with its ``[n]`` links; one the judge did not support is marked so.

    ``AnswerSentence(text="It was 12,000.", citations=[1], support=0.2, supported=False)`` →
    ``'<span class="qa-unsupported" title="…0.20…">It was 12,000 <a …>[1]</a>. <span
    class="qa-unsupported-label">unsupported</span></span>'``
    """
    shown = link_markers(render_sentence(sentence), citations)
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
    """A finished answer as the Chatbot shows it.

    One HTML block with no blank line, so the Chatbot's Markdown leaves it alone.
    """
    body = render_notices([answer.notice])
    if answer.refused:
        body += render_refusal(answer, metadata)
    else:
        if answer.sentences:
            text = " ".join(render_sentence_html(s, answer.citations, answer.judge) for s in answer.sentences)
        else:  # an answer made without the builder: its text is all there is
            text = link_markers(answer.text, answer.citations)
        body += f'<div class="qa-answer">{text}</div>'
        body += render_confidence(answer)
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
    return f'<div class="qa-message">{body}</div>'


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
    shown = [render_sentence_html(s, pending.citations, None) for s in pending.sentences]
    if tail := _RAW_MARKERS.sub("", pending.tail).strip():
        shown.append(f'<span class="qa-writing">{esc(tail)}</span>')
    if shown:
        body += f'<div class="qa-answer">{" ".join(shown)}</div>'
    else:
        body += '<div class="qa-status">Writing the answer…</div>'
    body += render_sources(pending.citations, metadata)
    body += render_dropped(pending.dropped)
    return f'<div class="qa-message">{body}</div>'


# --- the document view


def resolve_source(name: str, known: Collection[str], seeds_dir: Path) -> str | None:
    """``name`` if it plainly names an indexed document inside ``seeds_dir``, else ``None``.

    >>> resolve_source("a.txt", {"a.txt"}, Path("seeds"))
    'a.txt'
    >>> [resolve_source(n, {"a.txt"}, Path("seeds")) for n in ("../a.txt", "/etc/passwd", "b.txt")]
    [None, None, None]
    """
    parts = name.split("/")
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or PurePosixPath(name).is_absolute()
        or any(part in ("", ".", "..") for part in parts)
        or name not in known
    ):
        return None
    root = seeds_dir.resolve()
    if not (root / name).resolve().is_relative_to(root):  # a symlink out of the seeds folder
        return None
    return name


def highlight(text: str, start: int | None, end: int | None) -> str:
    """``text`` escaped, with ``text[start:end]`` wrapped in ``<mark id="cited">``.

    >>> highlight("a <b> c", 2, 5)
    'a <mark id="cited">&lt;b&gt;</mark> c'
    """
    if start is None or end is None or not 0 <= start < end <= len(text):
        return escape_html(text)
    return (
        f'{escape_html(text[:start])}<mark id="cited">{escape_html(text[start:end])}</mark>'
        f"{escape_html(text[end:])}"
    )


DOC_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 16px/1.55 system-ui, sans-serif; max-width: 50rem; margin: 2rem auto; padding: 0 1rem; }}
header {{ border-bottom: 1px solid #ddd; margin-bottom: 1rem; }}
h1 {{ font-size: 1.35rem; margin: 0 0 .3rem; }}
.by {{ color: #555; margin: 0 0 .6rem; }}
.text {{ white-space: pre-wrap; overflow-wrap: anywhere; }}
mark {{ background: #ffe066; padding: .1em 0; scroll-margin: 40vh; }}
.note {{ color: #8a4b00; }}
</style></head>
<body><header><h1>{title}</h1><p class="by">{byline}</p><p>{links}</p>{note}</header>
<div class="text" id="text">{body}</div></body></html>
"""


def render_document(document: SourceDocument, start: int | None, end: int | None) -> str:
    """The document view's page; the cited span is marked and the URL's ``#cited`` scrolls to it."""
    meta = document.metadata
    title = meta.title or document.source
    links = [f"<code>{escape_html(document.source)}</code>"]
    if url := safe_url(meta.url):
        links.append(link(url, "original article ↗", "qa-url"))
    in_range = start is not None and end is not None and 0 <= start < end <= len(document.text)
    note = ""
    if (start is not None or end is not None) and not in_range:
        note = '<p class="note">The requested span is not in this document; showing it whole.</p>'
    return DOC_PAGE.format(
        title=escape_html(title),
        byline=escape_html(byline(meta)),
        links=" · ".join(links),
        note=note,
        body=highlight(document.text, start, end),
    )


def error_page(title: str, message: str) -> str:
    """A small page saying what went wrong, e.g. ``Not found``."""
    title, message = escape_html(title), escape_html(message)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1><p>{message}</p></body></html>"
    )


# Scripts never run on the document view: its text is escaped, and the policy forbids them anyway.
DOC_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}


def add_document_route(app: FastAPI, pipeline: Pipeline, status: IndexStatus) -> None:
    """Serve ``GET /doc/{source}?start=..&end=..``: 404 for anything but an indexed document."""
    from fastapi.responses import HTMLResponse

    @app.get(f"/{DOC_ROUTE}/{{source:path}}", response_class=HTMLResponse, include_in_schema=False)
    def document_view(source: str, start: int | None = None, end: int | None = None) -> HTMLResponse:
        if not status.ready:
            message = status.describe() if not status.failed else status.message
            return HTMLResponse(error_page("Index not ready", message), status_code=503, headers=DOC_HEADERS)
        name = resolve_source(source, set(pipeline.sources()), pipeline.settings.seeds_dir)
        try:
            if name is None:
                raise UnknownSourceError(f"No document named {source!r} in the index")
            document = pipeline.document(name)
        except UnknownSourceError as error:
            return HTMLResponse(error_page("Not found", str(error)), status_code=404, headers=DOC_HEADERS)
        return HTMLResponse(render_document(document, start, end), headers=DOC_HEADERS)


# --- the chat


def with_reply(chat: Messages, content: str) -> Messages:
    """The chat with one more (pending or final) assistant message."""
    return [*chat, {"role": "assistant", "content": content}]


@dataclass
class Chat:
    """The app's event handlers: the streaming chat of the page and the JSON ``/ask`` API."""

    pipeline: Pipeline
    status: IndexStatus

    def metadata(self, sources: Iterable[str]) -> dict[str, DocumentMetadata]:
        return {source: self.pipeline.metadata(source) for source in set(sources)}

    def wait_for_index(self, chat: Messages) -> Iterator[Messages]:
        """Until there is a generation to answer from (the first build publishes the small seeds
        first), show the build's progress in the pending answer."""
        while not self.status.wait(timeout=0.5):
            if self.status.failed:
                return
            yield with_reply(chat, render_notice(self.status.describe(), "qa-status"))

    def respond(
        self,
        question: str,
        chat: Messages | None,
        turns: Turns | None,
        top_k: float,
        answerer: str,
        show_passages: bool,
    ) -> Iterator[tuple[Messages, Turns, str]]:
        """Answer ``question`` in the chat as the pipeline streams it: yields ``(chat, turns,
        question box)`` once per event, the pending answer re-rendered each time."""
        import gradio as gr

        chat, turns = list(chat or []), list(turns or [])
        try:  # the page's own controls can still send what the request model refuses (a pasted ESC)
            request = self.pipeline.request(
                question, turns[-CHAT_TURNS:], top_k=top_k, answerer=answerer or None
            )
        except InvalidRequestError as error:
            gr.Warning(visible(str(error)))
            yield chat, turns, question  # the question stays in the box, to be corrected
            return
        question = request.question
        chat.append({"role": "user", "content": escape_html(question)})
        yield with_reply(chat, render_notice("Searching the articles…", "qa-status")), turns, ""
        for waiting in self.wait_for_index(chat):
            yield waiting, turns, ""
        pending = Pending()
        answer: Answer | None = None
        try:
            if self.status.failed:
                raise QAError(self.status.message)
            for event in self.pipeline.stream_request(request):
                if isinstance(event, AnswerEvent):
                    answer = event.answer
                    continue
                pending.add(event)
                shown = render_pending(pending, self.metadata(pending.sources))
                yield with_reply(chat, shown), turns, ""
            if answer is None:
                raise QAError("The answer stream ended without an answer; try again")
            sources = [c.source for c in answer.citations] + [p.source for p in answer.passages]
            final = render_answer(answer, self.metadata(sources), show_passages=show_passages)
        except QAError as error:
            yield with_reply(chat, render_notice(str(error))), turns, ""
            return
        except Exception as error:  # shown as a message; the traceback goes to the server log
            log.exception("Answering %r failed", question)
            message = f"Something went wrong ({type(error).__name__}); the server log has details."
            yield with_reply(chat, render_notice(message)), turns, ""
            return
        turns += [["user", question], ["assistant", answer.text]]
        yield with_reply(chat, final), turns, ""

    def ask(
        self,
        question: str,
        history: list[list[str]] | None = None,
        top_k: int | None = None,
        answerer: str | None = None,
        sources: list[str] | None = None,
        mode: str | None = None,
    ) -> dict[str, Any]:
        """Answer a question with citations, as JSON (the fields of qa.schema.Answer): text with
        [n] markers, citations (source, offsets, quote, quote support score), sentences (each with
        its support and whether the judge supported it), dropped (sentences removed as unsupported),
        judge, grounding, refused, answerer, confidence (the probability that the answer is right,
        from the learned answerability model) and unsure (true when it is below the 'not sure' level),
        and notice / fallback_from when the answer is not what was asked for (the LLM failed, or too
        little of its answer was supported, so the extractive answer stands in).

        A request that cannot be answered returns {"error": {"field": ..., "message": ..., "type": ...}}
        instead: field names the input to change (question, history, top_k, answerer, sources, mode;
        null when the input is not at fault, e.g. the index failed to build), message says how.

        Args:
            question: the question about the articles.
            history: earlier turns as [role, text] pairs, role "user" or "assistant", for follow-ups.
            top_k: how many passages to retrieve, 1 to 50 (default: the server's setting).
            answerer: "extractive" (quotes the source sentences; fast) or "llm" (a language model
                writes the answer; slow on a CPU; only when the server has the llm extra installed).
                Default: the server's setting, "extractive" unless QA_ANSWERER says otherwise.
            sources: only search these documents (file names as in the citations).
            mode: retrieval mode, "hybrid" (default), "dense" or "bm25".
        """
        try:
            request = self.pipeline.request(
                question, history, top_k=top_k, answerer=answerer, sources=sources, mode=mode
            )
            if not self.status.wait(timeout=600):
                raise QAError(self.status.message or "The index is still being built; try again shortly")
            answer = None
            for event in self.pipeline.stream_request(request):
                if isinstance(event, AnswerEvent):
                    answer = event.answer
            if answer is None:
                raise QAError("The answer stream ended without an answer; try again")
        except QAError as error:
            return error_body(error)
        except Exception as error:  # never an internal message: the traceback goes to the log
            log.exception("/ask failed")
            return error_body(error)
        return answer.to_dict()


def error_body(error: Exception) -> dict[str, Any]:
    """What ``/ask`` returns for an error: ``{"error": {"field", "message", "type"}}``. A project
    error says what to change; anything else is reported as internal, its text kept in the log."""
    if isinstance(error, QAError):
        field = error.field if isinstance(error, InvalidRequestError) else None
        return {"error": {"field": field, "message": visible(str(error)), "type": type(error).__name__}}
    message = f"Internal error ({type(error).__name__}); the server log has details"
    return {"error": {"field": None, "message": message, "type": "InternalError"}}


CSS = """
.qa-message { display: flex; flex-direction: column; gap: .5rem; }
.qa-answer { font-size: 1.02rem; }
.qa-cite { text-decoration: none; font-weight: 600; color: var(--color-accent) !important; }
.qa-sources, .qa-closest { border-top: 1px solid var(--border-color-primary); padding-top: .4rem; font-size: .9rem; }
.qa-sources-head { font-weight: 600; margin-bottom: .2rem; }
.qa-source { margin: .35rem 0 .6rem; }
.qa-n { font-weight: 600; }
.qa-title { font-weight: 600; }
.qa-by, .qa-score, .qa-meta { color: var(--body-text-color-subdued); font-size: .85rem; }
.qa-message .qa-quote { margin: .25rem 0; padding: 0 0 0 .6rem; border-left: 3px solid #f0c000;
                        font-style: italic; }
.qa-refusal, .qa-error, .qa-notice { border: 1px solid; border-radius: 6px; padding: .5rem .7rem; }
.qa-notice { border-color: #2563eb; background: rgba(37, 99, 235, .08); }
.qa-judge { font-weight: 400; color: var(--body-text-color-subdued); font-size: .85rem; margin-left: .3rem; }
.qa-unsupported { text-decoration: underline dotted #dc2626; text-underline-offset: 3px; }
.qa-unsupported-label { font-size: .72rem; color: #b91c1c; border: 1px solid #dc2626; border-radius: 4px;
                        padding: 0 .25rem; white-space: nowrap; }
.qa-dropped { font-size: .85rem; color: var(--body-text-color-subdued); }
.qa-dropped-sentence { margin: .3rem 0 .3rem .6rem; }
.qa-writing { color: var(--body-text-color-subdued); }
.qa-refusal { border-color: #d97706; background: rgba(217, 119, 6, .10); }
.qa-confidence { color: var(--body-text-color-subdued); font-size: .85rem; margin-top: .3rem; }
.qa-unsure { border: 1px solid #d97706; border-radius: 6px; padding: .5rem .7rem; margin-top: .4rem;
  background: rgba(217, 119, 6, .06); }
.qa-unsure-head { font-weight: 700; color: #b45309; }
.qa-refusal-head { font-weight: 700; color: #b45309; }
.qa-error { border-color: #dc2626; background: rgba(220, 38, 38, .08); }
.qa-status { color: var(--body-text-color-subdued); font-style: italic; }
#index-status { font-size: .9rem; }
"""


def build_ui(chat: Chat, settings: Settings) -> gr.Blocks:
    """The page: status line, chat, question box, examples and a collapsed settings panel."""
    import gradio as gr

    with gr.Blocks(title="Ask the articles", analytics_enabled=False) as ui:
        gr.Markdown(
            "## Ask the articles\nQuestions about North Korean troops in Russia's war on Ukraine, answered "
            "from the indexed articles, with every sentence cited."
        )
        status = gr.Markdown(chat.status.describe(), elem_id="index-status")
        chatbot = gr.Chatbot(
            label="Chat",
            show_label=False,
            elem_id="chat",
            height=520,
            latex_delimiters=[],
            buttons=[],
            feedback_options=None,
            placeholder="Ask a question, or pick an example below.",
        )
        turns = gr.State([])
        with gr.Row():
            question = gr.Textbox(
                placeholder="Ask about the articles…",
                show_label=False,
                scale=8,
                elem_id="question",
                max_length=settings.max_question_chars,
            )
            ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
        examples = gr.Dataset(
            components=[question], samples=[[q] for q in EXAMPLES], label="Examples", elem_id="examples"
        )
        with gr.Accordion("Settings", open=False, elem_id="settings"):
            top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Passages to retrieve (top_k)")
            names = chat.pipeline.answerer_names  # the default first; "llm" when the extra is installed
            answerer = gr.Dropdown(
                names,
                value=settings.answerer if settings.answerer in names else names[0],
                label="Answerer",
                info=". ".join(f"{n}: {ANSWERER_HELP[n]}" for n in names if n in ANSWERER_HELP) + ".",
                elem_id="answerer",
            )
            show_passages = gr.Checkbox(label="Show the retrieved passages with their scores", value=False)

        inputs = [question, chatbot, turns, top_k, answerer, show_passages]
        outputs = [chatbot, turns, question]
        limit = settings.concurrency  # no lock around answering: sessions wait only when more than this ask
        respond: dict[str, Any] = dict(fn=chat.respond, inputs=inputs, outputs=outputs, concurrency_limit=limit)
        question.submit(**respond, api_name="chat", api_visibility="undocumented")
        ask.click(**respond, api_visibility="private")
        examples.click(lambda sample: sample[0], examples, question, api_visibility="private").then(
            **respond, api_visibility="private"
        )
        chatbot.clear(lambda: [], None, turns, api_visibility="private")  # the Chatbot's own bin button
        gr.api(chat.ask, api_name="ask", concurrency_limit=limit)

        timer = gr.Timer(1.0)
        update = _status_update(chat.status)
        ui.load(update, None, [status, timer], api_visibility="private")
        timer.tick(update, None, [status, timer], api_visibility="private")
    return ui


def _status_update(status: IndexStatus) -> Callable[[], tuple[str, Any]]:
    """The timer's handler: the status line, and the timer stopped when no build can report any more."""

    def update() -> tuple[str, Any]:
        import gradio as gr

        # Running while a build may report: until the first answer, during an update, and for as
        # long as the seeds folder is followed (a seed edited later is indexed in the background).
        active = not status.failed and (not status.ready or status.updating or status.watching)
        return status.describe(), gr.Timer(active=active)

    return update


def create_app(
    pipeline: Pipeline, *, status: IndexStatus | None = None, prepare: bool = True, host: str = DEFAULT_HOST
) -> FastAPI:
    """The ASGI app: the document view at ``/doc/...`` and the Gradio page at ``/``, with the
    exposure checks of ui/exposure.py (log-in when set, Host names for ``host``, body size, no uploads).

    Starts building/opening the index in the background unless ``prepare`` is off (then the caller
    runs :func:`prepare_index`). The status is ``app.state.index_status``.
    """
    import gradio as gr
    from fastapi import FastAPI

    from ui import exposure

    status = status or IndexStatus()
    app = FastAPI(title="Ask the articles", docs_url=None, redoc_url=None)
    app.state.index_status = status
    add_document_route(app, pipeline, status)  # before the mount, which takes every other path
    ui = build_ui(Chat(pipeline, status), pipeline.settings)
    # Local fonts only: the default theme's web fonts would be fetched from the internet.
    theme = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace"])
    options = exposure.gradio_options(pipeline.settings)  # the log-in, and no file taken
    app = gr.mount_gradio_app(
        app, ui, path="", theme=theme, css=CSS, footer_links=["api", "gradio"], **options
    )
    exposure.protect(app, pipeline.settings, host=host, private=[f"/{DOC_ROUTE}"])
    if prepare:
        start_index(pipeline, status)
    return app


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Chat with the articles in the browser (Gradio).")
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", DEFAULT_HOST),
        help=f"address to listen on (default: $GRADIO_SERVER_NAME or {DEFAULT_HOST})",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", DEFAULT_PORT)),
        help=f"port to listen on (default: $GRADIO_SERVER_PORT or {DEFAULT_PORT})",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Read the settings, start the index build and serve the app until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import uvicorn

    from qa.pipeline import Pipeline
    from qa.settings import Settings

    try:
        settings = Settings.load()
        from ui.exposure import check_bind

        check_bind(args.host, settings)  # a non-loopback address needs a log-in or the waiver
        app = create_app(Pipeline(settings), host=args.host)  # a malformed QA_AUTH_FILE stops here
    except QAError as error:
        print(f"error: {visible(str(error))}", file=sys.stderr)
        raise SystemExit(1) from None
    log.info("Serving http://%s:%d/ (index: %s)", args.host, args.port, settings.resolved_index_dir)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
