"""Reading and writing in the chat, in Debian's Chromium: typing while an answer streams, a question
sent meanwhile waiting its turn, Stop, the citation popover, the document in the side panel,
low confidence marked, the character counter, keyboard-only use, and the page on a phone.

The app is served in this process over the session's real index, so that one answerer can be
slowed down: ``slow`` streams the extractive answerer's own output (the real retrieval, sentences
and verification), pausing between pieces, so that there is time to type and to press Stop.

    HF_HUB_OFFLINE=1 python -m pytest tests/test_browser_chat.py -q      # about two minutes
    APP_SCREENSHOTS=docs/screenshots python -m pytest tests/test_browser_chat.py -q   # README pictures
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import app
from qa.extractive.answerer import ExtractiveAnswerer
from qa.pipeline import Pipeline
from tests.test_app import serve
from tests.test_browser import CITED, QUESTION, answers, ask, browser, panel_document, wait_for_answer
from ui.layout import EXAMPLES

__all__ = ["browser"]  # the fixture, imported
FOLLOWUP = "And how many did U.S. intelligence say?"
PAUSE = 1.5  # seconds between the slow answerer's pieces


class Slow:
    """The extractive answerer, pausing before each piece it yields; its last piece also waits for
    ``released`` (set unless a test holds the answer back), so that a test can type and act while
    the answer is still being written, whatever the machine's speed."""

    def __init__(self) -> None:
        self._extractive = ExtractiveAnswerer()
        self.released = threading.Event()
        self.released.set()

    def stream(self, resolved: Any, passages: Any, library: Any) -> Iterator[Any]:
        items = list(self._extractive.stream(resolved, passages, library))
        for number, item in enumerate(items, start=1):
            time.sleep(PAUSE)
            if number == len(items):
                self.released.wait(timeout=60)
            yield item


SLOW = Slow()


@pytest.fixture(scope="module")
def chat_url(seeds_settings, embeddings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    pipeline = Pipeline(seeds_settings, embeddings=embeddings, answerers={"slow": SLOW})
    asgi = app.create_app(pipeline)
    assert asgi.state.index_status.wait(120), asgi.state.index_status.message
    with serve(asgi) as port:
        yield f"http://127.0.0.1:{port}/"


def open_chat(browser, url: str, **context: Any):  # type: ignore[no-untyped-def]
    page = browser.new_context(**({"viewport": {"width": 1280, "height": 900}} | context)).new_page()
    page.goto(url)
    page.locator("#question textarea").wait_for(timeout=60_000)
    page.locator("#index-status").get_by_text("Ready").wait_for(timeout=60_000)
    return page


def choose_slow(page) -> None:  # type: ignore[no-untyped-def]
    page.locator("#settings").get_by_text("Settings").first.click()
    page.locator("#answerer input").click()
    page.get_by_role("option", name="slow").click()


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if folder := os.environ.get("APP_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name))


@pytest.mark.browser
def test_typing_while_an_answer_streams_stays_and_a_sent_question_waits_its_turn(chat_url, browser) -> None:  # type: ignore[no-untyped-def]
    page = open_chat(browser, chat_url)
    choose_slow(page)
    box = page.locator("#question textarea")
    box.fill(QUESTION)
    SLOW.released.clear()  # the first answer is held back until the second question is sent
    box.press("Enter")
    page.locator("#stop").wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('#question textarea').value === ''")  # emptied once
    box.type("And how many", delay=300)  # typed while the answer streams: the updates leave it be
    assert page.locator("#chat .qa-writing, #chat .qa-answer").count() > 0  # updates came meanwhile
    assert box.input_value() == "And how many"
    box.type(" did U.S. intelligence say?")
    assert page.locator("#stop").is_visible()  # still being written
    box.press("Enter")  # while the first answer is still written: it waits its turn
    assert page.locator("#question.qa-queued").count() == 1
    SLOW.released.set()
    first = wait_for_answer(page, 0)
    assert "Ukrainian intelligence" in first.inner_text()
    second = wait_for_answer(page, 1)  # sent by itself once the first was done
    assert "3,000" in second.locator(".qa-answer").inner_text()
    assert page.locator("#chat [data-testid='user']").count() == 2
    assert box.input_value() == "" and page.locator("#ask").is_visible()


@pytest.mark.browser
def test_stop_ends_the_answer_being_written(chat_url, browser) -> None:  # type: ignore[no-untyped-def]
    page = open_chat(browser, chat_url)
    choose_slow(page)
    page.locator("#question textarea").fill(QUESTION)
    SLOW.released.clear()  # the answer cannot end before Stop is pressed
    page.locator("#question textarea").press("Enter")
    stop = page.locator("#stop")
    stop.wait_for(state="visible")
    page.wait_for_timeout(int(PAUSE * 1500))
    stop.click()
    SLOW.released.set()
    page.locator("#chat").get_by_text("Stopped.").wait_for(timeout=10_000)
    page.locator("#ask").wait_for(state="visible")
    page.wait_for_timeout(int(PAUSE * 3000))  # nothing more arrives for the stopped answer
    assert answers(page) == 0 and page.locator("#chat .qa-sources-head").count() <= 1
    # The chat goes on: the next question is answered.
    page.locator("#answerer input").click()
    page.get_by_role("option", name="extractive").click()
    assert "Ukrainian intelligence" in ask(page, QUESTION).inner_text()


@pytest.mark.browser
def test_citation_popover_and_the_document_beside_the_chat(chat_url, browser) -> None:  # type: ignore[no-untyped-def]
    page = open_chat(browser, chat_url)
    answer = ask(page, QUESTION)
    marker = answer.locator("a.qa-cite").first
    popover = marker.locator(".qa-pop")
    assert popover.is_hidden()
    marker.hover()
    assert popover.is_visible()
    text = popover.inner_text()
    assert CITED in text and "The Hill" in text and "The West did nothing" in text
    assert marker.get_attribute("title") is None  # no plain browser tooltip on top of it
    screenshot(page, "desktop-popover.png")
    marker.click()
    document = panel_document(page)
    assert document.locator("mark#cited").inner_text() == CITED
    assert len(page.context.pages) == 1  # beside the chat, not a new tab
    assert page.locator("#chat").is_visible()
    screenshot(page, "desktop-document.png")
    page.locator(".qa-panel-close").click()
    assert page.locator("#qa-doc-panel").is_hidden()


@pytest.mark.browser
def test_low_confidence_is_marked_and_high_is_not(chat_url, browser, pipeline) -> None:  # type: ignore[no-untyped-def]
    candidates = [QUESTION, *EXAMPLES[1:], "What did Kim Jong Un say about the troops?"]
    by_unsure = {}
    for question in candidates:
        result = pipeline.ask(question)
        if not result.refused:
            by_unsure.setdefault(result.unsure, question)
    assert set(by_unsure) == {True, False}, "need one sure and one unsure answer to compare"
    page = open_chat(browser, chat_url)
    unsure = ask(page, by_unsure[True])
    assert unsure.locator(".qa-message.qa-low").count() == 1
    head = unsure.locator(".qa-unsure-head")
    assert "Not sure" in head.inner_text()
    box = head.bounding_box()
    answer_box = unsure.locator(".qa-answer").bounding_box()
    assert box and answer_box and box["y"] < answer_box["y"]  # said before the answer
    screenshot(page, "desktop-not-sure.png")
    sure = ask(page, by_unsure[False])
    assert sure.locator(".qa-low").count() == 0 and "Confidence" in sure.inner_text()


@pytest.mark.browser
def test_the_counter_shows_the_limit_and_nothing_is_cut(chat_url, browser) -> None:  # type: ignore[no-untyped-def]
    page = open_chat(browser, chat_url)
    box = page.locator("#question textarea")
    long = "why " * 500 + "x"  # 2,001 characters
    box.fill(long)
    box.dispatch_event("input")
    counter = page.locator("#qa-count")
    assert counter.inner_text() == "2,001 / 2,000" and "qa-over" in (counter.get_attribute("class") or "")
    box.press("Enter")
    page.get_by_text("limit is 2,000").first.wait_for(timeout=10_000)  # said, not cut
    assert box.input_value() == long and answers(page) == 0
    page.locator("#settings").get_by_text("Settings").first.click()
    page.locator("#settings").get_by_text("1 to 50").wait_for(timeout=10_000)  # the limit is shown


@pytest.mark.browser
def test_keyboard_only(chat_url, browser) -> None:  # type: ignore[no-untyped-def]
    page = open_chat(browser, chat_url)
    in_box = "() => !!document.activeElement && document.activeElement.closest('#question') !== null"
    for _ in range(10):  # the box has focus when the page opens; else Tab gets there
        if page.evaluate(in_box):
            break
        page.keyboard.press("Tab")
    assert page.evaluate(in_box), "Tab never reached the question box"
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    wait_for_answer(page, 0)
    for _ in range(60):  # Tab to the first [n]
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('a.qa-cite')"):
            break
    else:
        pytest.fail("Tab never reached a citation")
    assert page.locator("a.qa-cite:focus .qa-pop").is_visible()  # the popover on focus
    page.keyboard.press("Enter")
    panel_document(page)
    assert page.evaluate("() => document.activeElement.matches('.qa-panel-close')")
    page.keyboard.press("Escape")
    assert page.locator("#qa-doc-panel").is_hidden()
    assert page.evaluate("() => document.activeElement.matches('a.qa-cite')")  # back where it was


@pytest.mark.browser
def test_on_a_phone(chat_url, browser) -> None:  # type: ignore[no-untyped-def]
    page = open_chat(
        browser,
        chat_url,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    answer = ask(page, QUESTION)
    marker = answer.locator("a.qa-cite").first
    marker.tap()  # the first tap: the popover
    assert marker.locator(".qa-pop").is_visible() and page.locator("#qa-doc-panel").count() == 0
    screenshot(page, "phone-popover.png")
    marker.tap()  # the second: the document
    document = panel_document(page)
    assert document.locator("mark#cited").inner_text() == CITED
    screenshot(page, "phone-document.png")


@pytest.mark.browser
def test_the_start_of_the_newest_answer_stays_in_view(chat_url, browser) -> None:  # type: ignore[no-untyped-def]
    page = open_chat(browser, chat_url)
    page.locator("#settings").get_by_text("Settings").first.click()
    page.get_by_label("Show the retrieved passages with their scores").check()  # long answers
    for question in (QUESTION, "What has North Korea given Russia for use in Ukraine?"):
        ask(page, question)
    newest = page.locator("#chat [data-testid='user']").last.bounding_box()  # in the window's pixels
    answer = page.locator('#chat [data-testid="bot"]').last.bounding_box()
    assert newest and answer
    overflow = page.evaluate(
        "() => { const w = document.querySelector('#chat .bubble-wrap') || document.getElementById('chat');"
        " const box = w.getBoundingClientRect(); return [w.scrollHeight > w.clientHeight, box.top, box.bottom]; }"
    )
    assert overflow[0], "the chat did not overflow: the test proves nothing"
    assert 0 <= newest["y"] <= 900 / 3  # its question near the top of the window
    assert overflow[1] - 2 <= newest["y"] < answer["y"] < min(900, overflow[2])  # the answer's start below it
