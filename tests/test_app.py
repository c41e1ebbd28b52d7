"""The app's own parts: the document view (path checks, escaping, highlighting) served on loopback,
the HTML rendering of answers, and the chat handler over a real index. The browser test is
tests/test_browser.py.

    HF_HUB_OFFLINE=1 python -m pytest tests/test_app.py -q
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

import app
from index.metadata import DocumentMetadata
from qa.schema import Answer, AnswerSentence, Citation, NoticeEvent, Passage, SentenceEvent, TokenEvent
from ui.chat import Chat
from ui.document_view import highlight, resolve_source
from ui.layout import build_ui
from ui.render import Pending, doc_href, esc, link_markers, render_answer, render_notice, render_pending
from ui.status import IndexStatus, prepare_index

QUESTION = "Who reported 12,000 troops?"
CITED = "Ukrainian intelligence places the number at 12,000."
SOURCE = "001_8ecca554f728260b.txt"


# --- serving an app on loopback, so that raw paths ("/doc/../x") reach it unnormalised


@contextmanager
def serve(asgi_app) -> Iterator[int]:
    """Run ``asgi_app`` with uvicorn in a thread on a free loopback port; yields the port."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(asgi_app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert server.started, "uvicorn did not start"
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def get(port: int, path: str) -> tuple[int, str, dict[str, str]]:
    """GET ``path`` exactly as written (no dot-segment removal): status, body, headers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8"), dict(response.getheaders())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def seeds_app(pipeline):
    """The app over the session's real index of the project's seeds, on loopback."""
    asgi = app.create_app(pipeline)
    assert asgi.state.index_status.wait(120), asgi.state.index_status.message
    with serve(asgi) as port:
        yield port


# --- the document view


@pytest.mark.parametrize(
    "path",
    [
        "/doc/../pyproject.toml",
        "/doc/../../etc/passwd",
        "/doc/..",
        f"/doc/./{SOURCE}",
        "/doc/%2e%2e%2fpyproject.toml",
        "/doc/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/doc/..%2fpyproject.toml",
        "/doc/%2e%2e/pyproject.toml",
        "/doc/..%5cpyproject.toml",
        "/doc//etc/passwd",
        "/doc/%2Fetc%2Fpasswd",
        f"/doc/%2F{SOURCE}",
        "/doc/%252e%252e%252fpyproject.toml",
        "/doc/not-a-seed.txt",
        "/doc/",
        "/doc/%00",  # NUL
        "/doc/%ED%A0%80",  # an encoded surrogate: not UTF-8
        "/doc/%FF.txt",
        "/doc/%1B%5B2J.txt",  # a terminal escape
        f"/doc/{SOURCE}%00",
    ],
)
def test_document_view_refuses_names_outside_the_index(seeds_app: int, path: str) -> None:
    status, body, _ = get(seeds_app, path)
    assert status == 404, (path, status)
    assert "in the index" in body  # refused by the document view itself, not by a fallback route
    assert "root:" not in body and "[project]" not in body
    assert not any(c in body for c in "\x00\x1b\ud800")  # the name is shown escaped, never raw


def test_document_view_highlights_the_cited_span(seeds_app: int, pipeline) -> None:
    text = pipeline.index.document(SOURCE).text
    start = text.index(CITED)
    status, body, headers = get(seeds_app, f"/doc/{SOURCE}?start={start}&end={start + len(CITED)}")
    assert status == 200
    assert f'<mark id="cited">{CITED}</mark>' in body
    assert body.count("<mark") == 1
    assert "default-src 'none'" in headers["content-security-policy"]


def test_document_view_without_or_with_a_bad_span_shows_the_whole_document(seeds_app: int) -> None:
    status, body, _ = get(seeds_app, f"/doc/{SOURCE}")
    assert status == 200 and "<mark" not in body and CITED in body
    status, body, _ = get(seeds_app, f"/doc/{SOURCE}?start=5&end=999999")
    assert status == 200 and "<mark" not in body and "not in this document" in body


def test_document_view_escapes_html_in_documents(make_settings, embeddings) -> None:
    from index.build import build_index
    from qa.pipeline import Pipeline

    settings = make_settings()
    evil = (
        "A page with <b>markup</b>\n\n"
        "The army moved north in spring. <script>alert(1)</script> was in the page. "
        "Officials said <img src=x onerror=alert(2)> nothing more.\n"
    )
    (settings.seeds_dir / "evil.txt").write_text(evil, encoding="utf-8")
    build_index(settings, embeddings=embeddings)
    asgi = app.create_app(Pipeline(settings, embeddings=embeddings))
    assert asgi.state.index_status.wait(60), asgi.state.index_status.message
    start = evil.index("<script>")
    end = evil.index("</script>") + len("</script>")
    with serve(asgi) as port:
        status, body, _ = get(port, f"/doc/evil.txt?start={start}&end={end}")
    assert status == 200
    assert '<mark id="cited">&lt;script&gt;alert(1)&lt;/script&gt;</mark>' in body
    assert "&lt;img src=x onerror=alert(2)&gt;" in body
    assert "<script" not in body and "<img" not in body and "<b>" not in body


def test_document_view_says_so_while_the_index_is_not_ready(pipeline) -> None:
    asgi = app.create_app(pipeline, prepare=False)
    asgi.state.index_status.progress(26, 73, SOURCE)
    with serve(asgi) as port:
        status, body, _ = get(port, f"/doc/{SOURCE}")
    assert status == 503
    assert "Building the index: 26 of 73" in body


def test_resolve_source_accepts_only_plain_indexed_names(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    (seeds / "sub").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("secret")
    (seeds / "link.txt").symlink_to(tmp_path / "secret.txt")
    known = {"a.txt", "sub/b.txt", "link.txt"}
    assert resolve_source("a.txt", known, seeds) == "a.txt"
    assert resolve_source("sub/b.txt", known, seeds) == "sub/b.txt"
    for name in [
        "",
        "..",
        "../a.txt",
        "sub/../a.txt",
        "./a.txt",
        "/a.txt",
        "sub//b.txt",
        "sub\\b.txt",
        "a.txt\x00",
        "c.txt",
        "link.txt",
        str(seeds / "a.txt"),
    ]:
        assert resolve_source(name, known, seeds) is None, name


def test_highlight_escapes_and_marks_exactly_the_span() -> None:
    assert highlight("x <i>y</i> z", 2, 10) == 'x <mark id="cited">&lt;i&gt;y&lt;/i&gt;</mark> z'
    assert highlight("a & b", None, None) == "a &amp; b"
    assert highlight("abc", 2, 1) == "abc"


# --- rendering answers

CITATION = Citation(
    n=1,
    source=SOURCE,
    title="The <West>",
    url="https://example.org/a?b=1&c=2",
    quote=CITED,
    start=673,
    end=724,
    score=0.91,
)
META = {SOURCE: DocumentMetadata(title="The <West>", author="Joseph Bosco", publisher="The Hill")}


def passage(rank: int, text: str = "Some <passage> text.") -> Passage:
    return Passage(
        id=f"p{rank}",
        source=SOURCE,
        title="The <West>",
        text=text,
        start=10 * rank,
        end=10 * rank + 5,
        rank=rank,
        score=0.0164 - rank / 1000,
        dense_score=0.5,
        bm25_score=3.2,
    )


def test_markers_become_links_to_the_cited_span() -> None:
    html = link_markers("Ukrainian <intelligence> says 12,000 [1]. Unknown [7].", [CITATION])
    assert html.startswith("Ukrainian &lt;intelligence&gt; says 12,000 <a ")
    assert f'href="doc/{SOURCE}?start=673&amp;end=724#cited"' in html
    assert 'target="_blank"' in html and "</span></span></a>." in html
    assert "Unknown [7]." in html  # no citation 7: left as text


def test_doc_href_quotes_names() -> None:
    assert doc_href("sub/a b#c.txt", 1, 2) == "doc/sub/a%20b%23c.txt?start=1&end=2#cited"
    assert doc_href("a.txt") == "doc/a.txt"


def test_answer_lists_sources_with_both_links_and_escapes() -> None:
    answer = Answer(
        question=QUESTION, text=f"{CITED} [1]", citations=[CITATION], grounding=0.91, passages=[passage(1)]
    )
    html = render_answer(answer, META)
    assert 'class="qa-sources"' in html and "qa-refusal" not in html
    assert "The &lt;West&gt;" in html and "The Hill · Joseph Bosco" in html
    assert f'<div class="qa-quote">{CITED}</div>' in html and "support 0.91" in html
    assert 'class="qa-doc-link"' in html
    assert 'href="https://example.org/a?b=1&amp;c=2" target="_blank"' in html
    assert "qa-passages" not in html
    assert "\n\n" not in html  # one HTML block: Markdown leaves it alone
    assert "Retrieved passages (1)" in render_answer(answer, META, show_passages=True)


def test_original_link_only_for_web_addresses() -> None:
    citation = CITATION.model_copy(update={"url": "javascript:alert(1)"})
    answer = Answer(question=QUESTION, text=f"{CITED} [1]", citations=[citation])
    html = render_answer(answer, {})
    assert "javascript:" not in html and 'class="qa-url"' not in html and 'class="qa-doc-link"' in html


def test_refusal_is_a_distinct_block_listing_the_closest_passages() -> None:
    answer = Answer(
        question="What is the best recipe for lasagna?",
        refused=True,
        text="The sources do not say. The closest passages are listed below.",
        passages=[passage(1), passage(2, "x " * 400)],
    )
    html = render_answer(answer, META)
    assert 'class="qa-refusal"' in html and "The sources do not answer this question." in html
    assert "Closest passages" in html and html.count('class="qa-source"') == 2
    assert "Some &lt;passage&gt; text." in html and "score 0.0154" in html and "dense 0.500" in html
    assert " …" in html  # long passages are cut


# --- the chat handler over the real index


def run(chat: Chat, question: str, messages: list, turns: list, **options) -> tuple[list, list, int]:
    """Drive the streaming handler to the end: the last ``(messages, turns)`` and how many updates."""
    settings: dict[str, Any] = {"top_k": 6, "answerer": "extractive", "show_passages": False} | options
    updates = list(chat.respond(question, messages, turns, **settings))
    messages, turns, _ = updates[-1]
    assert updates[0][2] == "" and all(isinstance(box, dict) for _, _, box in updates[1:])  # emptied once
    return messages, turns, len(updates)


def test_chat_streams_answers_and_keeps_the_conversation(pipeline) -> None:
    status = IndexStatus()
    prepare_index(pipeline, status)
    assert status.ready and status.describe() == "Ready: 5 articles indexed."
    chat = Chat(pipeline, status)

    messages, turns, updates = run(chat, QUESTION, [], [])
    assert updates > 2  # a placeholder, the answer as it is written, the final answer
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert "Ukrainian intelligence" in messages[1]["content"] and "qa-sources" in messages[1]["content"]
    assert turns == [["user", QUESTION], ["assistant", pipeline.ask(QUESTION).text]]

    followup = "And how many did U.S. intelligence say?"
    messages, turns, _ = run(chat, followup, messages, turns, show_passages=True)
    assert len(messages) == 4 and len(turns) == 4
    assert "3,000" in messages[3]["content"] and "qa-passages" in messages[3]["content"]
    assert "searched for:" in messages[3]["content"]


def test_chat_shows_errors_as_messages(make_settings, embeddings) -> None:
    from qa.pipeline import Pipeline

    pipeline = Pipeline(make_settings(), embeddings=embeddings)  # an empty seeds folder
    status = IndexStatus()
    prepare_index(pipeline, status)
    assert status.failed and "Traceback" not in status.message
    messages, turns, _ = run(Chat(pipeline, status), QUESTION, [], [])
    assert 'class="qa-error"' in messages[-1]["content"] and turns == []
    assert esc(status.message) in messages[-1]["content"]


@pytest.mark.parametrize(
    ("question", "options", "message"),
    [
        ("\x1b[2JWho reported 12,000 troops?", {}, "control character U+001B"),
        ("Who\ud800?", {}, "unpaired surrogate"),
        ("   ", {}, "empty"),
        (QUESTION, {"top_k": 0}, "top_k"),
        (QUESTION, {"answerer": "gpt"}, "Unknown answerer"),
    ],
)
def test_chat_refuses_bad_input_with_a_message_and_keeps_the_question(
    pipeline, monkeypatch, question, options, message
) -> None:
    import gradio as gr

    shown: list[str] = []
    monkeypatch.setattr(gr, "Warning", lambda text, *a, **k: shown.append(text))
    status = IndexStatus()
    status.finish("Ready")
    settings: dict[str, Any] = {"top_k": 6, "answerer": "extractive", "show_passages": False} | options
    earlier = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    updates = list(Chat(pipeline, status).respond(question, earlier, [], **settings))
    assert len(updates) == 1 and updates[0][:2] == (earlier, [])  # nothing added, nothing lost
    assert updates[0][2] == gr.skip()  # the question stays in the box
    assert len(shown) == 1 and message in shown[0] and "\x1b" not in shown[0]


def test_chat_api_returns_the_answer_as_json(pipeline) -> None:
    status = IndexStatus()
    status.finish("Ready")
    result = Chat(pipeline, status).ask(QUESTION)
    assert "Ukrainian intelligence" in result["text"] and result["citations"][0]["quote"] == CITED


def test_a_missing_index_is_reported_when_auto_build_is_off(make_settings, embeddings) -> None:
    from qa.pipeline import Pipeline

    status = IndexStatus()
    prepare_index(Pipeline(make_settings(auto_build=False), embeddings=embeddings), status)
    assert status.failed and "python -m index build" in status.message


# --- what verification shows: marks, removed sentences, notices, the judge

SENTENCE_SUPPORTED = AnswerSentence(text=CITED, citations=[1], support=0.97, supported=True)
SENTENCE_UNSUPPORTED = AnswerSentence(
    text="North Korea sent 50 tanks.", citations=[1], support=0.2, supported=False
)


def test_unsupported_sentences_dropped_ones_and_the_notice_are_visible() -> None:
    answer = Answer(
        question=QUESTION,
        text=f"{CITED[:-1]} [1]. North Korea sent 50 tanks [1].",
        citations=[CITATION],
        grounding=0.585,
        sentences=[SENTENCE_SUPPORTED, SENTENCE_UNSUPPORTED],
        dropped=[AnswerSentence(text="Russia <paid> for them.", support=0.31, supported=False)],
        judge="overlap",
        notice="The llm answerer failed: the server did not answer. This is the extractive answer.",
        fallback_from="llm",
    )
    html = render_answer(answer, META)
    notice, rest = html.split('<div class="qa-answer">')
    assert '<div class="qa-notice">The llm answerer failed' in notice  # above the answer
    answer_part, sources = rest.split('<div class="qa-sources">')
    supported, unsupported = answer_part.split('<span class="qa-unsupported"')
    assert "Ukrainian intelligence" in supported and "</span></span></a>." in supported
    assert "North Korea sent 50 tanks" in unsupported and ">unsupported</span>" in unsupported
    assert "overlap judge scored it 0.20" in unsupported
    # Support is named as what it is; grounding is not shown as if it said the answer were right.
    assert 'Sources <span class="qa-judge">quotes checked by the overlap judge</span>' in sources
    assert "grounding" not in html
    assert 'title="The overlap judge&#x27;s score (0 to 1) that the quoted words state the sentence' in html
    assert "it does not say that the answer is right" in html and "quote support 0.91" in html
    dropped = sources.split('<details class="qa-dropped">')[1]
    assert "<summary>Removed as unsupported by the sources (1)</summary>" in dropped
    assert "Russia &lt;paid&gt; for them." in dropped and "overlap judge score 0.31" in dropped
    assert "answerer extractive · in place of llm" in html
    assert "\n\n" not in html


def test_a_refusal_still_shows_its_notice_and_what_was_removed() -> None:
    answer = Answer(
        question=QUESTION,
        text="The sources do not say. No sentence of the drafted answer was supported.",
        refused=True,
        dropped=[SENTENCE_UNSUPPORTED.model_copy(update={"citations": []})],
        judge="overlap",
        notice="Too little was supported.",
    )
    html = render_answer(answer, META)
    assert 'class="qa-refusal"' in html and 'class="qa-notice"' in html
    assert "Removed as unsupported by the sources (1)" in html and "qa-answer" not in html


def test_pending_answer_shows_verified_sentences_then_the_raw_text() -> None:
    pending = Pending()
    for piece in ["Ukrainian intelligence ", "places the number at 12,000 [1", "]. North <Korea"]:
        pending.add(TokenEvent(text=piece))
    html = render_pending(pending, META)
    assert "qa-cite" not in html and "qa-sources" not in html and "qa-meta" not in html
    assert (
        '<span class="qa-writing">Ukrainian intelligence places the number at 12,000. North &lt;Korea' in html
    )
    pending.add(SentenceEvent(sentence=SENTENCE_SUPPORTED, citations=[CITATION], kept=True))
    html = render_pending(pending, META)
    assert f'{CITED[:-1]} <a class="qa-cite"' in html and 'class="qa-source"' in html
    assert '<span class="qa-writing">North &lt;Korea</span>' in html  # the LLM's own [1] is left out
    assert "qa-meta" not in html  # the line that ends a finished answer
    pending.add(SentenceEvent(sentence=SENTENCE_UNSUPPORTED, kept=False))
    html = render_pending(pending, META)
    assert "qa-writing" not in html and "Removed as unsupported by the sources (1)" in html
    pending.add(NoticeEvent(message="The model <failed>.", restart=True))
    html = render_pending(pending, META)
    assert '<div class="qa-notice">The model &lt;failed&gt;.</div>' in html
    assert "Ukrainian" not in html and "qa-dropped" not in html and "Writing the answer" in html


# --- the chat handler streaming what a scripted answerer writes, over the real index


class ScriptedAnswerer:
    """An answerer that writes ``script``: text pieces, sentences citing exact spans, a refusal, or
    an exception to raise; ``seen`` is what it has yielded so far, so that a test can tell what the
    chat showed before the answerer wrote what."""

    name = "fake"

    def __init__(self) -> None:
        self.script: list[Any] = []
        self.seen: list[Any] = []

    def stream(self, question, passages, library) -> Iterator[Any]:  # type: ignore[no-untyped-def]
        self.seen = []
        for item in self.script:
            if isinstance(item, Exception):
                raise item
            self.seen.append(item)
            yield item


US_QUOTE = (
    "U.S. intelligence then declassified a report that said at least 3,000 North Korean soldiers are "
    "undergoing combat training in Russia, a development that U.S officials say could have global "
    "implications."
)
UNSUPPORTED = "North Korea sent 50 tanks to the front."


def script_of(pipeline, *sentences: tuple[str, str], pieces: int = 3) -> list[Any]:
    """Each ``(sentence, quote)`` written in ``pieces`` pieces of text (at most one per word), then
    drafted citing ``quote`` exactly as the seed holds it."""
    from qa.answer import DraftSentence, Span

    text = pipeline.index.text(SOURCE)
    script: list[Any] = []
    for sentence, quote in sentences:
        words = sentence.split(" ")
        cuts = [round(i * len(words) / pieces) for i in range(pieces + 1)]
        script += [" " + " ".join(words[a:b]) for a, b in pairwise(cuts)]
        start = text.index(quote)
        script.append(DraftSentence(sentence, [Span(SOURCE, start, start + len(quote))]))
    return script


@pytest.fixture(scope="module")
def scripted(seeds_settings, embeddings):
    """A chat over the real index whose ``fake`` answerer writes what a test scripts (judge:
    overlap; unsupported sentences dropped)."""
    from qa.pipeline import Pipeline

    fake = ScriptedAnswerer()
    pipeline = Pipeline(seeds_settings, embeddings=embeddings, answerers={"fake": fake})
    status = IndexStatus()
    status.finish("Ready")
    return Chat(pipeline, status), fake


@pytest.fixture(scope="module")
def scripted_marking(seeds_settings, embeddings):
    """As ``scripted``, with unsupported sentences kept and marked (``QA_UNSUPPORTED=mark``)."""
    from qa.pipeline import Pipeline

    fake = ScriptedAnswerer()
    settings = seeds_settings.model_copy(update={"unsupported": "mark"})
    pipeline = Pipeline(settings, embeddings=embeddings, answerers={"fake": fake})
    status = IndexStatus()
    status.finish("Ready")
    return Chat(pipeline, status), fake


def steps(chat: Chat, fake: ScriptedAnswerer, question: str = QUESTION) -> list[tuple[str, int]]:
    """Every update of the chat handler: the last message's HTML, and how many items the answerer
    had written when it was shown."""
    shown = []
    for messages, _, _ in chat.respond(question, [], [], 6, "fake", False):
        shown.append((messages[-1]["content"], len(fake.seen)))
    return shown


def test_chat_shows_text_as_written_and_each_sentence_once_verified(scripted, monkeypatch) -> None:
    chat, fake = scripted
    fake.script = script_of(chat.pipeline, (CITED, CITED), (US_QUOTE, US_QUOTE))
    first_draft = next(i for i, item in enumerate(fake.script) if not isinstance(item, str)) + 1
    monkeypatch.setattr("time.sleep", lambda seconds: pytest.fail("the chat paced its text"))
    shown = steps(chat, fake)

    # The text is shown as it is written, before the sentence is verified, without links.
    writing = [html for html, seen in shown if seen < first_draft and "qa-writing" in html]
    assert len(writing) == 3 and "Ukrainian intelligence places" in writing[-1]
    assert all("qa-cite" not in html and "qa-sources" not in html for html in writing)
    # Once verified, the sentence has its link and its source, while the next is still written.
    verified = next(html for html, seen in shown if seen == first_draft)
    assert f'{CITED[:-1]} <a class="qa-cite"' in verified and verified.count('class="qa-source"') == 1
    assert "qa-writing" not in verified and "qa-meta" not in verified
    later = next(html for html, seen in shown if seen == first_draft + 1)
    assert "</span></span></a>." in later and '<span class="qa-writing">U.S. intelligence' in later
    # The finished answer: both sentences, both sources, the judge.
    final = shown[-1][0]
    sources = final.split('<div class="qa-sources">')[1].split('<div class="qa-closest">')[0]
    assert final.count('class="qa-cite"') == 2 and sources.count('class="qa-source"') == 2
    assert "quotes checked by the overlap judge" in final and 'class="qa-meta"' in final


def test_confidence_is_shown_and_low_confidence_says_not_sure() -> None:
    sure = Answer(
        question=QUESTION,
        text=f"{CITED} [1]",
        citations=[CITATION],
        confidence=0.91,
        passages=[passage(1), passage(2)],
    )
    html = render_answer(sure, META)
    assert "Confidence 91% that this answers the question" in html and "Not sure" not in html
    assert "Closest passages" not in html
    unsure = sure.model_copy(update={"confidence": 0.31, "unsure": True})
    html = render_answer(unsure, META)
    assert html.startswith('<div class="qa-message qa-low">')  # the whole answer is marked
    before, rest = html.split('<div class="qa-unsure">')
    assert '<div class="qa-answer">' not in before  # how sure it is comes first, then the answer
    assert rest.startswith('<div class="qa-unsure-head">Not sure: the sources may not answer this.</div>')
    assert "Confidence 31%" in rest.split("</div></div>")[0]
    assert rest.index("Not sure") < rest.index('<div class="qa-answer">')
    sources, closest = rest.split('<div class="qa-closest">')
    assert sources.count('class="qa-source"') == 1  # the cited one; the closest come after it
    assert "Closest passages" in closest and closest.count('class="qa-source"') == 2


def test_chat_updates_once_per_piece_of_text(scripted) -> None:
    chat, fake = scripted
    counts = []
    for pieces in (2, 30):
        fake.script = script_of(chat.pipeline, (US_QUOTE, US_QUOTE), pieces=pieces)
        assert sum(isinstance(item, str) for item in fake.script) == pieces
        counts.append(len(steps(chat, fake)))
    assert counts[1] - counts[0] == 30 - 2  # one update per piece of text, no more, no fewer


def test_chat_marks_an_unsupported_sentence(scripted_marking) -> None:
    chat, fake = scripted_marking
    fake.script = script_of(chat.pipeline, (CITED, CITED), (UNSUPPORTED, CITED))
    shown = steps(chat, fake)
    answer = chat.pipeline.ask(QUESTION, answerer="fake")
    bad = answer.sentences[1]
    assert not bad.supported and answer.sentences[0].supported and answer.notice is None
    before_end = next(html for html, seen in shown if seen == len(fake.script))
    final = shown[-1][0]
    for html in (before_end, final):
        supported, unsupported = html.split('<span class="qa-unsupported"')
        assert "Ukrainian intelligence" in supported and "North Korea sent" not in supported
        assert "North Korea sent 50 tanks to the front <a" in unsupported
        assert f"scored it {bad.support:.2f}" in unsupported and ">unsupported</span>" in unsupported


def test_chat_lists_dropped_sentences(scripted) -> None:
    chat, fake = scripted
    fake.script = script_of(chat.pipeline, (CITED, CITED), (UNSUPPORTED, CITED))
    final = steps(chat, fake)[-1][0]
    answer = chat.pipeline.ask(QUESTION, answerer="fake")
    assert [s.text for s in answer.dropped] == [UNSUPPORTED] and answer.notice is None
    shown, dropped = final.split('<details class="qa-dropped">')
    assert "50 tanks" not in shown and "qa-unsupported" not in shown
    assert "<summary>Removed as unsupported by the sources (1)</summary>" in dropped
    assert f"{UNSUPPORTED} <span" in dropped
    assert f"overlap judge score {answer.dropped[0].support:.2f}" in dropped


def test_chat_shows_the_fallback_notice_and_discards_what_was_streamed(scripted) -> None:
    chat, fake = scripted
    fake.script = script_of(chat.pipeline, (UNSUPPORTED, CITED))
    shown = steps(chat, fake)
    assert any("North Korea sent 50" in html and "qa-writing" in html for html, _ in shown)
    restarted = next(i for i, (html, _) in enumerate(shown) if "qa-notice" in html)
    assert "The judge supported 0 of the 1 sentences the fake answerer wrote" in shown[restarted][0]
    assert all("North Korea sent 50" not in html for html, _ in shown[restarted:-1])
    final = shown[-1][0]
    assert final.index('class="qa-notice"') < final.index('class="qa-answer"')
    assert "Ukrainian intelligence" in final and "answerer extractive · in place of fake" in final
    assert "Removed as unsupported by the sources (1)" in final and UNSUPPORTED in final


def test_chat_shows_an_llm_failure_and_the_extractive_answer(scripted) -> None:
    from core.errors import LLMError

    chat, fake = scripted
    fake.script = [" Ukrainian", " intel", LLMError("The model server at http://127.0.0.1:9 is down")]
    shown = [html for html, _ in steps(chat, fake)]
    restarted = next(i for i, html in enumerate(shown) if "qa-notice" in html)
    assert "Ukrainian intel" in shown[restarted - 1] and "Ukrainian intel" not in shown[restarted]
    assert "is down. This is the extractive answer." in shown[restarted]
    messages, turns, _ = run(chat, QUESTION, [], [], answerer="fake")
    final = messages[-1]["content"]
    assert '<div class="qa-notice">The model server at http://127.0.0.1:9 is down' in final
    assert "Ukrainian intelligence places the number at 12,000" in final and "qa-error" not in final
    assert turns[-1][1].startswith("Ukrainian intelligence")


def test_chat_shows_an_error_raised_mid_stream(scripted) -> None:
    from core.errors import QAError

    chat, fake = scripted
    fake.script = [" Ukrainian", " intel", QAError("The index changed while answering; ask again")]
    shown = steps(chat, fake)
    assert any("Ukrainian intel" in html for html, _ in shown)
    assert shown[-1][0] == render_notice("The index changed while answering; ask again")
    messages, turns, _ = run(chat, QUESTION, [], [], answerer="fake")
    assert turns == []


def test_api_returns_the_verification_fields(scripted) -> None:
    chat, fake = scripted
    fake.script = script_of(chat.pipeline, (CITED, CITED), (UNSUPPORTED, CITED))
    result = chat.ask(QUESTION, answerer="fake")
    assert result["answerer"] == "fake" and result["judge"] == "overlap" and result["notice"] is None
    assert [s["text"] for s in result["dropped"]] == [UNSUPPORTED]
    assert all(s["supported"] for s in result["sentences"])


def test_answerer_menu_lists_what_the_pipeline_can_use(scripted) -> None:
    from qa import registry
    from ui.settings import AppSettings
    from ui.store import ChatStore

    chat, _ = scripted
    settings = AppSettings.of(chat.pipeline.settings)
    ui = build_ui(chat, settings, ChatStore(settings.resolved_chat_db))
    menu = next(b for b in ui.blocks.values() if getattr(b, "elem_id", None) == "answerer")
    choices = [value for _, value in menu.choices]
    assert choices == chat.pipeline.answerer_names and choices[:1] == ["extractive"]
    assert menu.value == "extractive" and "fake" in choices
    assert ("llm" in choices) == registry.llm_configured(chat.pipeline.settings.llm)
    assert ("llm: a language model" in menu.info) == ("llm" in choices)
