"""Seed names holding a line break, a tab or a bidirectional control (issue 17, case 11): such a
seed is indexed and cited, the document view's link opens it, and wherever its name is shown (the
CLI, the chat, the document view, the library) it goes through :func:`core.display.visible`, its
line breaks and controls written as escapes (``\\n``, ``\\u202e``), while the catalog keeps the
real name."""

from __future__ import annotations

import html
import json
import re

import pytest

import app
from core.display import visible
from index.build import build_index
from index.catalog import Catalog
from index.generations import Layout
from qa.__main__ import format_answer
from qa.pipeline import Pipeline
from tests.conftest import index_cli
from tests.test_app import get, serve
from tests.test_bad_input import call
from tests.test_hostile_seeds import ask_cli
from ui.render import doc_href

NEWLINE = "new\nline.txt"  # a line break: `index status` printed it on two lines, /doc gave 404
REVERSED = (
    "report\u202etxt.gpj.txt"  # U+202E, the right-to-left override: reads "report" + "txt.jpg.txt" reversed
)
ISOLATED = "tab\tand\u2066isolate\u2069.md"  # a tab, and a first-strong isolate with its closing PDI
NAMES = {
    NEWLINE: "Alpha Report\nThe alpha convoy carried 40 trucks to the border. Officials confirmed the convoy arrived.\n",
    # Opens with prose: no title line, so the name is what titles it.
    REVERSED: "Gamma engineers repaired two bridges in the valley on Monday, officials said. The work took a month.\n",
    ISOLATED: "Beta Report\nThe beta battalion trained for six weeks near the coast. It then moved north.\n",
}
QUESTIONS = {
    NEWLINE: "How many trucks did the alpha convoy carry?",
    REVERSED: "How many bridges did the gamma engineers repair?",
    ISOLATED: "How long did the beta battalion train?",
}
# What no shown name may hold raw: its line break, tab and bidirectional controls.
RAW = ("\n", "\t", "\u202e", "\u2066", "\u2069")


def shown(name: str) -> str:
    """How a name is shown: ``'new\\\\nline.txt'``."""
    return visible(name, one_line=True)


def raw_names_in(text: str) -> list[str]:
    """The names whose raw controls appear in ``text`` (a line break is fine between names)."""
    return [c for c in RAW if c != "\n" and c in text]


# --- fast: the one function names are shown through, and the links built for them


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (NEWLINE, "new\\nline.txt"),
        (REVERSED, "report\\u202etxt.gpj.txt"),
        (ISOLATED, "tab\\tand\\u2066isolate\\u2069.md"),
        ("rlm\u200f lro\u202d lrm\u200e.txt", "rlm\\u200f lro\\u202d lrm\\u200e.txt"),
        ("escape\x1b[31m.txt", "escape\\x1b[31m.txt"),
        ("Kyiv – Київ.txt", "Kyiv – Київ.txt"),  # letters of any script are left alone
    ],
)
def test_a_name_is_shown_with_its_controls_as_escapes(name: str, expected: str) -> None:
    assert visible(name, one_line=True) == expected
    assert "\u202e" not in visible(REVERSED)  # a document's text: overrides escaped, lines kept
    assert visible("two\nlines\tand a tab") == "two\nlines\tand a tab"


@pytest.mark.parametrize("name", list(NAMES))
def test_the_document_link_quotes_every_character_of_the_name(name: str) -> None:
    from urllib.parse import unquote, urlsplit

    href = doc_href(name, 0, 10)
    assert not any(c in href for c in RAW) and href.isascii()
    assert unquote(urlsplit(href).path) == f"doc/{name}"  # the route reads the real name back


# --- real: a built index, the CLIs and the app on loopback


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory, embeddings):  # type: ignore[no-untyped-def]
    from core.settings import Settings

    root = tmp_path_factory.mktemp("names")
    (root / "seeds").mkdir()
    for name, text in NAMES.items():
        (root / "seeds" / name).write_text(text, encoding="utf-8")
    settings = Settings(seeds_dir=root / "seeds", data_dir=root / "data", watch_seeds=0, _env_file=None)  # type: ignore[call-arg]
    report = build_index(settings, embeddings=embeddings)
    assert report.documents == 3 and not report.errors, report.summary()
    return settings


def test_the_catalog_keeps_the_real_names(named) -> None:  # type: ignore[no-untyped-def]
    catalog = Catalog(Layout(named).current().catalog_path)
    try:
        assert sorted(source for source, *_ in catalog.records()) == sorted(NAMES)
        assert all(catalog.text(name) == text for name, text in NAMES.items())
    finally:
        catalog.close()


def test_index_status_shows_each_name_on_one_line_with_its_controls_escaped(named) -> None:  # type: ignore[no-untyped-def]
    result = index_cli(named, "status")
    assert result.returncode == 0, result.stderr
    assert not raw_names_in(result.stdout), result.stdout
    lines = result.stdout.splitlines()
    for name in NAMES:
        assert any(line.startswith(f"{shown(name)}: 1 chunks") for line in lines), result.stdout
    assert not any(line.startswith("line.txt") for line in lines)  # not broken over two lines


@pytest.mark.parametrize("name", list(NAMES))
def test_qa_ask_cites_the_name_escaped(named, name) -> None:  # type: ignore[no-untyped-def]
    result = ask_cli(named, QUESTIONS[name])
    out = result.stdout.decode("utf-8")
    assert result.returncode == 0, result.stderr
    assert f"file: {shown(name)} (chars" in out, out
    assert not raw_names_in(out) and "new\nline" not in out
    if name == REVERSED:  # untitled: the name titles its citation
        assert f"] {shown(name)}\n" in out, out
    as_json = ask_cli(named, QUESTIONS[name], "--json")
    assert as_json.returncode == 0, as_json.stderr
    text = as_json.stdout.decode("utf-8")
    assert not raw_names_in(text)
    # JSON escapes read back as the real name: a program reading --json gets the file's name.
    assert name in {c["source"] for c in json.loads(text)["citations"]}


def test_format_answer_escapes_a_name_in_passages_and_citations(named, embeddings) -> None:  # type: ignore[no-untyped-def]
    pipeline = Pipeline(named, embeddings=embeddings)
    try:
        answer = pipeline.ask(QUESTIONS[NEWLINE])
        assert NEWLINE in {c.source for c in answer.citations}
        text = format_answer(answer)
        assert "new\nline" not in text and f"file: {shown(NEWLINE)}" in text
    finally:
        pipeline.close()


@pytest.fixture(scope="module")
def named_app(named, embeddings):  # type: ignore[no-untyped-def]
    pipeline = Pipeline(named, embeddings=embeddings)
    asgi = app.create_app(pipeline)
    assert asgi.state.index_status.wait(120), asgi.state.index_status.message
    with serve(asgi) as port:
        yield port, pipeline, asgi.state.index_status
    pipeline.close()


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for item in value for s in strings(item)] if isinstance(value, list) else []


def chat(port: int, question: str) -> str:
    """The chat's answer as the page gets it: its HTML (the strings of the event's data)."""
    kind, result = call(port, "chat", [question, [], [], 5, "extractive", False, None])
    assert kind == "complete", result
    return " ".join(strings(result))


@pytest.mark.parametrize("name", list(NAMES))
def test_the_chat_cites_the_name_escaped_and_its_link_opens_the_document(named_app, name) -> None:  # type: ignore[no-untyped-def]
    port, _, _ = named_app
    page = chat(port, QUESTIONS[name])
    assert not raw_names_in(page) and "new\nline" not in page and "new line.txt" not in page, page
    hrefs = {html.unescape(h) for h in re.findall(r'href="(doc/[^"]+)"', page)}
    quoted = doc_href(name).removeprefix("doc/")
    mine = [h for h in hrefs if h.startswith(f"doc/{quoted}?")]
    assert mine, (hrefs, page)
    if name == REVERSED:  # untitled: the name titles its source card, escaped
        assert html.escape(shown(name)) in page
    for href in mine:  # each link opens the document, the cited span marked
        status, body, _ = get(port, "/" + href.split("#")[0])
        assert status == 200, (href, body[:300])
        assert '<mark id="cited">' in body and NAMES[name].split("\n")[-2][:20] in body
        assert f"<code>{html.escape(shown(name))}</code>" in body
        assert not raw_names_in(body)
        title = re.search(r"<title>(.*?)</title>", body, re.S)
        assert title and "\n" not in title.group(1), body[:300]


def test_the_library_shows_each_name_escaped(named_app) -> None:  # type: ignore[no-untyped-def]
    from ui.library import Library

    _, pipeline, status = named_app
    library = Library(pipeline, status)
    table = library.table()
    assert not raw_names_in(table) and "new\nline" not in table, table
    for name in NAMES:
        assert f"<td>{html.escape(shown(name))}</td>" in table, table


def test_a_seed_that_cannot_be_read_is_named_on_one_line_by_the_build_and_the_library(
    make_settings, embeddings
) -> None:  # type: ignore[no-untyped-def]
    """``index build`` names a seed it cannot read in one error line; the library's status too."""
    from ui.library import Library
    from ui.status import IndexStatus, prepare_index

    settings = make_settings(watch_seeds=0)
    (settings.seeds_dir / NEWLINE).write_text(NAMES[NEWLINE], encoding="utf-8")
    broken = "caf\u00e9\nmenu\u202e.txt"
    (settings.seeds_dir / broken).write_bytes("Caf\xe9 report".encode("latin-1"))
    result = index_cli(settings, "build")
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {shown(broken)}: not valid UTF-8"), (
        result.stderr
    )
    assert not raw_names_in(result.stdout + result.stderr)
    pipeline, status = Pipeline(settings, embeddings=embeddings), IndexStatus()
    prepare_index(pipeline, status)
    try:
        table = Library(pipeline, status).table()
        assert f"failed: {html.escape(shown(broken))}: not valid UTF-8" in table, table
        assert not raw_names_in(table) and "\n" not in table
    finally:
        pipeline.close()
