"""The app as people use it: ``python app.py`` started on a free loopback port, building its index
on first start in a temporary folder, driven in Debian's headless Chromium by Playwright; and its
API called with ``gradio_client``.

    HF_HUB_OFFLINE=1 python -m pytest tests/test_browser.py -q     # about a minute
    APP_SCREENSHOT=docs/screenshot.png python -m pytest tests/test_browser.py -q -k chat   # README picture

Needs ``/usr/bin/chromium`` (``apt-get install chromium``); Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUESTION = "Who reported 12,000 troops?"
CITED = "Ukrainian intelligence places the number at 12,000."
START_TIMEOUT = 300  # seconds: the app loads the embedding model and builds the index first
ANSWER_TIMEOUT = 120_000  # milliseconds, for Playwright


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"app.py exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"app.py did not answer at {url} within {START_TIMEOUT}s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """End ``process``: terminated, killed if it is still there 15 s later."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def app_process(root: Path, **values: str) -> Iterator[str]:
    """``python app.py --port N`` in ``root`` over ``root/seeds`` (a copy of the project's seeds) and
    an empty ``root/data``, with ``values`` added to its environment; its URL once it serves."""
    shutil.copytree(PROJECT_ROOT / "seeds", root / "seeds")
    port = free_port()
    env = os.environ | {
        "QA_SEEDS_DIR": str(root / "seeds"),
        "QA_DATA_DIR": str(root / "data"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_ANALYTICS_ENABLED": "False",
        **values,
    }
    log = root / "app.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,  # cwd: no developer's .env
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(url, process, log)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python app.py --port N`` over a copy of the seeds and an empty data folder; its URL."""
    with app_process(tmp_path_factory.mktemp("app")) as url:
        yield url


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # A fresh temporary profile each launch; Playwright adds its own --user-data-dir.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def answers(page) -> int:
    """How many answers (or error messages) the chat shows once finished."""
    return page.locator("#chat .qa-meta, #chat .qa-error").count()


def wait_for_answer(page, before: int):
    """The last bot message, once answer number ``before + 1`` is complete."""
    page.wait_for_function(
        f"document.querySelectorAll('#chat .qa-meta, #chat .qa-error').length > {before}",
        timeout=ANSWER_TIMEOUT,
    )
    return page.locator('#chat [data-testid="bot"]').last


def ask(page, question: str):
    before = answers(page)
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")
    return wait_for_answer(page, before)


def panel_document(page):
    """The document shown in the side panel, once it has loaded."""
    page.locator("#qa-doc-panel").wait_for(state="visible", timeout=10_000)
    frame = page.frame_locator("#qa-doc-panel iframe")
    frame.locator("mark#cited, body").first.wait_for(timeout=20_000)
    page.wait_for_function(
        "() => { const f = document.querySelector('#qa-doc-panel iframe');"
        " return f && f.contentDocument && f.contentDocument.readyState === 'complete'"
        " && f.contentDocument.querySelector('main, body'); }",
        timeout=20_000,
    )
    return next(f for f in page.frames if "/doc/" in f.url)


def watch_streaming(page) -> None:
    """Record the length of the newest answer's text each time the chat changes."""
    page.evaluate(
        """() => {
            window.answerLengths = [];
            new MutationObserver(() => {
                const all = document.querySelectorAll('#chat .qa-answer');
                if (all.length) window.answerLengths.push(all[all.length - 1].textContent.length);
            }).observe(document.querySelector('#chat'),
                       {childList: true, subtree: true, characterData: true});
        }"""
    )


@pytest.mark.browser
def test_chat_in_a_real_browser(app_url: str, browser, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(app_url)
    page.locator("#index-status").get_by_text("Ready").wait_for(timeout=START_TIMEOUT * 1000)

    # The example question, clicked: it is asked at once.
    before = answers(page)
    page.locator("#examples").get_by_text(QUESTION, exact=True).click()
    answer = wait_for_answer(page, before)
    assert "Ukrainian intelligence" in answer.locator(".qa-answer").inner_text()
    assert answer.locator(".qa-refusal").count() == 0
    card = answer.locator(".qa-sources details.qa-source").first
    assert "support" not in card.inner_text()  # compact: number, title, publisher
    card.locator("summary").click()
    assert "support" in card.inner_text() and CITED in card.inner_text()  # opened: quote, score, links
    page.screenshot(path=str(tmp_path / "answered.png"))
    if target := os.environ.get("APP_SCREENSHOT"):
        page.screenshot(path=target)

    # The inline [1] and the source card's local link both open the cited span, beside the chat.
    marker = answer.locator("a.qa-cite").first
    local = answer.locator("a.qa-doc-link").first
    assert marker.inner_text().startswith("[1]")
    assert marker.get_attribute("href") == local.get_attribute("href")
    local.click()
    document = panel_document(page)
    mark = document.locator("mark#cited")
    assert mark.inner_text() == CITED
    assert document.evaluate(
        "() => { const r = document.getElementById('cited').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight; }"
    ), "the cited span is not scrolled into view"
    page.keyboard.press("Escape")
    assert page.locator("#qa-doc-panel").is_hidden()

    # Back in the chat: a follow-up is answered in the context of the first question, streamed.
    page.bring_to_front()
    watch_streaming(page)
    followup = ask(page, "And how many did U.S. intelligence say?")
    assert "3,000" in followup.locator(".qa-answer").inner_text()
    lengths = page.evaluate("window.answerLengths")
    assert len(set(lengths)) > 2, f"the answer did not grow in steps: {lengths}"

    # Out of the corpus: refused, visibly, with the closest passages listed.
    refusal = ask(page, "What is the best recipe for lasagna?")
    assert "do not answer" in refusal.locator(".qa-refusal").inner_text()
    assert refusal.locator(".qa-source").count() > 0
    assert refusal.locator(".qa-answer").count() == 0
    page.screenshot(path=str(tmp_path / "conversation.png"), full_page=True)


@pytest.mark.browser
def test_settings_panel_shows_retrieved_passages(app_url: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(app_url)
    page.locator("#index-status").get_by_text("Ready").wait_for(timeout=START_TIMEOUT * 1000)
    assert not page.get_by_label("Show the retrieved passages with their scores").is_visible()  # collapsed
    page.locator("#settings").get_by_text("Settings").click()
    page.get_by_label("Show the retrieved passages with their scores").check()
    answer = ask(page, QUESTION)
    answer.locator("details.qa-passages summary").click()
    assert "dense" in answer.locator("details.qa-passages").inner_text()


@pytest.mark.slow
def test_gradio_client_calls_the_ask_api(app_url: str) -> None:
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    first = client.predict(QUESTION, api_name="/ask")
    assert "Ukrainian intelligence" in first["text"] and first["citations"][0]["quote"] == CITED
    history = [["user", QUESTION], ["assistant", first["text"]]]
    followup = client.predict("And how many did U.S. intelligence say?", history, api_name="/ask")
    assert "3,000" in followup["text"]
