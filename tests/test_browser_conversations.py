"""Conversations, feedback, copy and regenerate as people use them: ``python app.py`` on a free
loopback port (tests/test_browser.py's helpers) driven in Debian's headless Chromium; the saved
records read back from the app's SQLite file.

    HF_HUB_OFFLINE=1 python -m pytest tests/test_browser_conversations.py -q     # about a minute
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from tests.test_browser import (  # noqa: F401 - browser is a fixture
    ANSWER_TIMEOUT,
    CITED,
    QUESTION,
    START_TIMEOUT,
    answers,
    app_process,
    ask,
    browser,
    free_port,
    wait_for_answer,
    wait_until_serving,
)
from ui.conversations import title_for

FOLLOWUP = "And how many did U.S. intelligence say?"
OTHER = "What did Kremlin spokesman Dmitry Peskov call the reports of North Korean troops?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``python app.py`` over a copy of the seeds: its URL and its data folder."""
    root = tmp_path_factory.mktemp("convo-app")
    with app_process(root) as url:
        yield url, root / "data"


def open_page(browser, url: str, context=None):  # noqa: F811 - the fixture's value
    context = context or browser.new_context(viewport={"width": 1300, "height": 850})
    page = context.new_page()
    page.goto(url)
    page.locator("#index-status").get_by_text("Ready").wait_for(timeout=START_TIMEOUT * 1000)
    return page


def rows(data: Path, sql: str, *args: object) -> list[sqlite3.Row]:
    conn = sqlite3.connect(data / "app.sqlite3")
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def latest(data: Path) -> str:
    """The id of the conversation saved last (the tests ask one question at a time)."""
    return rows(data, "SELECT id FROM conversations ORDER BY updated DESC LIMIT 1")[0]["id"]


def selected(page) -> str:
    """The title the sidebar shows as the open conversation."""
    return page.locator("#conversations label:has(input:checked)").inner_text().strip()


def bots(page):
    return page.locator('#chat [data-testid="bot"]')


def new_conversation(page) -> None:
    page.locator("#new-conversation").click()
    page.wait_for_function("document.querySelectorAll('#chat .qa-answer').length == 0")
    page.locator("#conversations label:has(input:checked)").wait_for(state="detached")


def ask_saved(page, data: Path, question: str):
    """Ask, then wait until the exchange is saved and the sidebar shows its conversation open."""
    answer = ask(page, question)
    shown = 2 * bots(page).count()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        saved = rows(data, "SELECT COUNT(*) AS n FROM messages WHERE conversation_id = ?", latest(data))
        if saved[0]["n"] == shown:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the chat shows {shown} messages, the store has {saved[0]['n']}")
    page.locator("#conversations label:has(input:checked)").wait_for()
    return answer


@pytest.mark.browser
def test_copy_puts_the_answer_with_footnotes_on_the_clipboard(served, browser) -> None:  # noqa: F811
    url, _ = served
    context = browser.new_context(viewport={"width": 1300, "height": 850})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
    page = open_page(browser, url, context)
    answer = ask(page, QUESTION)

    took = answer.locator(".qa-took").inner_text()
    assert re.fullmatch(r"answered in (\d+ ms|\d+\.\d s) by extractive", took), took

    answer.locator(".qa-copy").click()
    page.wait_for_function("() => window.qaCopied !== undefined")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    text, notes = copied.split("\n\n", 1)
    assert "Ukrainian intelligence" in text and "[1]" in text
    assert re.match(
        rf'\[1\] .+, The Hill — "{re.escape(CITED)}" \(001_8ecca554f728260b\.txt, chars \d+-\d+', notes
    )
    assert "<" not in copied  # text, not the HTML shown
    context.close()


@pytest.mark.browser
def test_thumbs_down_with_a_comment_is_stored_and_exported(served, browser, tmp_path: Path) -> None:  # noqa: F811
    url, data = served
    page = open_page(browser, url)
    ask_saved(page, data, QUESTION)
    conversation = latest(data)

    page.locator('#chat button[aria-label="Dislike"]').last.click()
    page.locator("#feedback-text textarea").fill("The number is right but I wanted the source's name.")
    page.locator("#feedback-send").click()
    page.locator("#feedback-comment").wait_for(state="hidden")

    (row,) = rows(data, "SELECT * FROM feedback WHERE conversation_id = ?", conversation)
    assert row["rating"] == "down"
    assert row["comment"] == "The number is right but I wanted the source's name."
    assert row["question"] == QUESTION and CITED in json.loads(row["answer"])["citations"][0]["quote"]

    out = tmp_path / "feedback.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "ui.store", "export-feedback", str(out), "--db", str(data / "app.sqlite3")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    mine = [r for r in exported if r["comment"].startswith("The number is right")]
    assert len(mine) == 1 and mine[0]["rating"] == "down" and mine[0]["answerer"] == "extractive"
    assert mine[0]["citations"][0]["quote"] == CITED and mine[0]["index_generation"]
    assert mine[0]["history"] == [] and "12,000" in mine[0]["answer_text"]


@pytest.mark.browser
def test_a_reload_keeps_the_conversation_and_its_followups(served, browser) -> None:  # noqa: F811
    url, data = served
    page = open_page(browser, url)
    new_conversation(page)
    ask_saved(page, data, QUESTION)
    conversation = latest(data)
    rows_before = len(rows(data, "SELECT id FROM conversations"))

    page.reload()
    page.locator("#index-status").get_by_text("Ready").wait_for(timeout=START_TIMEOUT * 1000)
    page.wait_for_function("document.querySelectorAll('#chat .qa-answer').length == 1", timeout=30_000)
    assert selected(page) == QUESTION
    assert "Ukrainian intelligence" in bots(page).last.locator(".qa-answer").inner_text()
    followup = ask_saved(page, data, FOLLOWUP)  # the pipeline's history came back with the chat
    assert "3,000" in followup.locator(".qa-answer").inner_text()
    assert latest(data) == conversation and len(rows(data, "SELECT id FROM conversations")) == rows_before
    assert len(rows(data, "SELECT id FROM messages WHERE conversation_id = ?", conversation)) == 4
    (sent,) = rows(
        data, "SELECT history FROM messages WHERE conversation_id = ? AND position = 3", conversation
    )
    history = json.loads(sent["history"])  # the turns came back with the chat
    assert len(history) == 2 and history[0] == ["user", QUESTION]


@pytest.mark.browser
def test_switching_conversations_keeps_each_ones_followups(served, browser) -> None:  # noqa: F811
    url, data = served
    page = open_page(browser, url)
    new_conversation(page)
    ask_saved(page, data, QUESTION)
    first = latest(data)

    new_conversation(page)
    other = ask_saved(page, data, OTHER)
    assert "Peskov" in other.inner_text() or other.locator(".qa-answer").count()
    second = latest(data)
    assert second != first and selected(page) == title_for(OTHER)

    page.locator("#conversations").get_by_text(QUESTION).first.click()
    page.wait_for_function("document.querySelectorAll('#chat .qa-answer').length == 1", timeout=30_000)
    followup = ask_saved(page, data, FOLLOWUP)
    assert "3,000" in followup.locator(".qa-answer").inner_text()
    assert selected(page) == QUESTION and latest(data) == first
    assert [r["role"] for r in rows(data, "SELECT role FROM messages WHERE conversation_id = ?", first)] == [
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert len(rows(data, "SELECT id FROM messages WHERE conversation_id = ?", second)) == 2
    # The follow-up was sent with the first conversation's turns, not the second's.
    (sent,) = rows(data, "SELECT history FROM messages WHERE conversation_id = ? AND position = 3", first)
    history = json.loads(sent["history"])
    assert len(history) == 2 and history[0] == ["user", QUESTION]

    # Rename, then delete: the list follows, and the chat empties.
    page.locator("#conversation-title textarea, #conversation-title input").first.fill("Troop numbers")
    page.locator("#rename-conversation").click()
    page.locator("#conversations").get_by_text("Troop numbers").wait_for()
    assert rows(data, "SELECT title FROM conversations WHERE id = ?", first)[0]["title"] == "Troop numbers"
    page.locator("#delete-conversation").click()
    page.wait_for_function("document.querySelectorAll('#chat .qa-answer').length == 0")
    assert rows(data, "SELECT id FROM conversations WHERE id = ?", first) == []
    assert page.locator("#conversations").get_by_text("Troop numbers").count() == 0


@pytest.mark.browser
def test_regenerate_replaces_the_last_answer(served, browser) -> None:  # noqa: F811
    url, data = served
    page = open_page(browser, url)
    new_conversation(page)
    ask_saved(page, data, QUESTION)
    ask_saved(page, data, FOLLOWUP)
    conversation = latest(data)
    (old,) = rows(data, "SELECT id FROM messages WHERE conversation_id = ? AND position = 3", conversation)

    page.locator('#chat button[aria-label="Retry"]').last.click()
    deadline = time.monotonic() + ANSWER_TIMEOUT / 1000
    while time.monotonic() < deadline:
        new = rows(
            data, "SELECT id, history FROM messages WHERE conversation_id = ? AND position = 3", conversation
        )
        if new and new[0]["id"] != old["id"]:
            break
        time.sleep(0.2)
    else:
        pytest.fail("no new answer was saved in place of the last one")
    # The same question with the same history: the follow-up is answered again, in context.
    assert json.loads(new[0]["history"])[0] == ["user", QUESTION]
    page.wait_for_function("document.querySelectorAll('#chat .qa-answer').length == 2", timeout=30_000)
    assert bots(page).count() == 2
    assert "3,000" in bots(page).last.locator(".qa-answer").inner_text()
    assert len(rows(data, "SELECT id FROM messages WHERE conversation_id = ?", conversation)) == 4
