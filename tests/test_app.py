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
from pathlib import Path
from typing import Any

import pytest

import app
from index.metadata import DocumentMetadata
from qa.schema import Answer, Citation, Passage

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
    ],
)
def test_document_view_refuses_names_outside_the_index(seeds_app: int, path: str) -> None:
    status, body, _ = get(seeds_app, path)
    assert status == 404, (path, status)
    assert "in the index" in body  # refused by the document view itself, not by a fallback route
    assert "root:" not in body and "[project]" not in body


def test_document_view_highlights_the_cited_span(seeds_app: int, pipeline) -> None:
    text = pipeline.document(SOURCE).text
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
    assert app.resolve_source("a.txt", known, seeds) == "a.txt"
    assert app.resolve_source("sub/b.txt", known, seeds) == "sub/b.txt"
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
        assert app.resolve_source(name, known, seeds) is None, name


def test_highlight_escapes_and_marks_exactly_the_span() -> None:
    assert app.highlight("x <i>y</i> z", 2, 10) == 'x <mark id="cited">&lt;i&gt;y&lt;/i&gt;</mark> z'
    assert app.highlight("a & b", None, None) == "a &amp; b"
    assert app.highlight("abc", 2, 1) == "abc"


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
    html = app.link_markers("Ukrainian <intelligence> says 12,000 [1]. Unknown [7].", [CITATION])
    assert html.startswith("Ukrainian &lt;intelligence&gt; says 12,000 <a ")
    assert f'href="doc/{SOURCE}?start=673&amp;end=724#cited"' in html
    assert 'target="_blank"' in html and ">[1]</a>." in html
    assert "Unknown [7]." in html  # no citation 7: left as text


def test_doc_href_quotes_names() -> None:
    assert app.doc_href("sub/a b#c.txt", 1, 2) == "doc/sub/a%20b%23c.txt?start=1&end=2#cited"
    assert app.doc_href("a.txt") == "doc/a.txt"


def test_answer_lists_sources_with_both_links_and_escapes() -> None:
    answer = Answer(
        question=QUESTION, text=f"{CITED} [1]", citations=[CITATION], grounding=0.91, passages=[passage(1)]
    )
    html = app.render_answer(answer, META)
    assert 'class="qa-sources"' in html and "qa-refusal" not in html
    assert "The &lt;West&gt;" in html and "The Hill · Joseph Bosco" in html
    assert f'<div class="qa-quote">{CITED}</div>' in html and "support 0.91" in html
    assert 'class="qa-doc-link"' in html
    assert 'href="https://example.org/a?b=1&amp;c=2" target="_blank"' in html
    assert "qa-passages" not in html
    assert "\n\n" not in html  # one HTML block: Markdown leaves it alone
    assert "Retrieved passages (1)" in app.render_answer(answer, META, show_passages=True)


def test_original_link_only_for_web_addresses() -> None:
    citation = CITATION.model_copy(update={"url": "javascript:alert(1)"})
    answer = Answer(question=QUESTION, text=f"{CITED} [1]", citations=[citation])
    html = app.render_answer(answer, {})
    assert "javascript:" not in html and 'class="qa-url"' not in html and 'class="qa-doc-link"' in html


def test_streamed_prefix_shows_text_without_sources() -> None:
    answer = Answer(question=QUESTION, text=f"{CITED} [1]", citations=[CITATION])
    html = app.render_answer(answer, META, text="Ukrainian intelligence ")
    assert "Ukrainian intelligence" in html and "qa-sources" not in html and "qa-meta" not in html


def test_refusal_is_a_distinct_block_listing_the_closest_passages() -> None:
    answer = Answer(
        question="What is the best recipe for lasagna?",
        refused=True,
        text="The sources do not say. The closest passages are listed below.",
        passages=[passage(1), passage(2, "x " * 400)],
    )
    html = app.render_answer(answer, META)
    assert 'class="qa-refusal"' in html and "The sources do not answer this question." in html
    assert "Closest passages" in html and html.count('class="qa-source"') == 2
    assert "Some &lt;passage&gt; text." in html and "score 0.0154" in html and "dense 0.500" in html
    assert " …" in html  # long passages are cut


def test_word_prefixes_grow_to_the_whole_text() -> None:
    prefixes = list(app.word_prefixes("one two three four five", step=2))
    assert prefixes == ["one two ", "one two three four ", "one two three four five"]
    assert list(app.word_prefixes("")) == [""]


# --- the chat handler over the real index


def run(chat: app.Chat, question: str, messages: list, turns: list, **options) -> tuple[list, list, int]:
    """Drive the streaming handler to the end: the last ``(messages, turns)`` and how many updates."""
    settings: dict[str, Any] = {"top_k": 6, "answerer": "extractive", "show_passages": False} | options
    updates = list(chat.respond(question, messages, turns, **settings))
    messages, turns, box = updates[-1]
    assert box == ""
    return messages, turns, len(updates)


def test_chat_streams_answers_and_keeps_the_conversation(pipeline) -> None:
    status = app.IndexStatus()
    app.prepare_index(pipeline, status)
    assert status.ready and status.describe() == "Ready: 5 articles indexed."
    chat = app.Chat(pipeline, status, delay=0)

    messages, turns, updates = run(chat, QUESTION, [], [])
    assert updates > 2  # a placeholder, the growing text, the final answer
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
    status = app.IndexStatus()
    app.prepare_index(pipeline, status)
    assert status.failed and "Traceback" not in status.message
    messages, turns, _ = run(app.Chat(pipeline, status, delay=0), QUESTION, [], [])
    assert 'class="qa-error"' in messages[-1]["content"] and turns == []
    assert app.esc(status.message) in messages[-1]["content"]


def test_chat_api_returns_the_answer_as_json(pipeline) -> None:
    status = app.IndexStatus()
    status.finish("Ready")
    result = app.Chat(pipeline, status).ask(QUESTION)
    assert "Ukrainian intelligence" in result["text"] and result["citations"][0]["quote"] == CITED


def test_a_missing_index_is_reported_when_auto_build_is_off(make_settings, embeddings) -> None:
    from qa.pipeline import Pipeline

    status = app.IndexStatus()
    app.prepare_index(Pipeline(make_settings(auto_build=False), embeddings=embeddings), status)
    assert status.failed and "python -m index build" in status.message
