"""The document library in a real browser: ``python app.py`` over a copy of the seeds, driven in
Chromium by Playwright. A .md and an .html file uploaded through the page, listed as indexed and
answered from; one removed and gone; a file over ``QA_MAX_UPLOAD_BYTES`` refused with a message.

    HF_HUB_OFFLINE=1 python -m pytest tests/test_browser_library.py -q     # about a minute
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_browser import START_TIMEOUT, app_process, ask, browser, panel_document  # noqa: F401
from tests.test_library import ARTICLE_HTML, ARTICLE_MD

UPLOAD_LIMIT = 200_000  # the app's QA_MAX_UPLOAD_BYTES here: small, so that "too big" is cheap to send
WAIT = 120_000  # milliseconds: an upload is indexed in the background


@pytest.fixture(scope="module")
def library_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``python app.py`` over a copy of the seeds, uploads up to 200 KB; ``(url, seeds folder)``."""
    root = tmp_path_factory.mktemp("library-app")
    with app_process(
        root, QA_MAX_UPLOAD_BYTES=str(UPLOAD_LIMIT), GRADIO_TEMP_DIR=str(root / "gradio")
    ) as url:
        yield url, root / "seeds"


def row(page, source: str):
    return page.locator(f'#library-table tr[data-source="{source}"]')


@pytest.mark.browser
def test_upload_ask_and_remove_in_a_real_browser(library_app, browser, tmp_path: Path) -> None:  # noqa: F811
    url, seeds = library_app
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(url)
    try:
        page.locator("#index-status").get_by_text("Ready").wait_for(timeout=START_TIMEOUT * 1000)
    except Exception:  # what the page showed instead, for the failure report
        page.screenshot(path=str(tmp_path / "not-ready.png"), full_page=True)
        raise
    page.locator("#library").get_by_text("Documents").first.click()
    row(page, "001_8ecca554f728260b.txt").locator(".qa-lib-indexed").wait_for(timeout=WAIT)

    md, html = tmp_path / "glacier.md", tmp_path / "Harbour cranes.html"
    md.write_text(ARTICLE_MD, encoding="utf-8")
    html.write_bytes(ARTICLE_HTML)
    page.locator("#library-upload input[type=file]").set_input_files([str(md), str(html)])
    page.locator("#library-message").get_by_text("Added").wait_for(timeout=WAIT)
    for source in ("uploads/glacier.md", "uploads/Harbour-cranes.txt"):
        row(page, source).locator(".qa-lib-indexed").wait_for(timeout=WAIT)
    cranes = row(page, "uploads/Harbour-cranes.txt").inner_text()
    assert (
        "Harbour cranes return to Vellmar" in cranes
        and "Coastal Gazette" in cranes
        and "2024-03-14" in cranes
    )
    assert "Glacier lake monitoring in Tarnvik" in row(page, "uploads/glacier.md").inner_text()
    assert "# Glacier" not in row(page, "uploads/glacier.md").inner_text()
    assert (seeds / "uploads" / "glacier.md").read_text(encoding="utf-8") == ARTICLE_MD
    assert not [
        p for p in (seeds.parent / "gradio").rglob("*") if p.is_file() and p.suffix in (".md", ".html")
    ]
    page.screenshot(path=str(tmp_path / "library.png"), full_page=True)

    answer = ask(page, "How much can the new cranes in Vellmar lift?")
    assert "65 tonnes" in answer.locator(".qa-answer").inner_text()
    assert "Harbour cranes return to Vellmar" in answer.locator(".qa-sources").inner_text()
    answer = ask(page, "How often do the Sorvatn sensors report the water level?")
    assert "every ten minutes" in answer.locator(".qa-answer").inner_text()
    answer.locator("a.qa-cite").first.click()  # the cited span, in the stored upload, beside the chat
    document = panel_document(page)
    cited = document.locator("mark#cited").inner_text()
    assert "every ten minutes" in cited and cited in ARTICLE_MD
    page.keyboard.press("Escape")

    # Remove the web page: gone from the folder, the table and the answers.
    page.locator("#library-choice input").click()
    page.get_by_role("option", name="uploads/Harbour-cranes.txt").click()
    page.locator("#library-remove").click()
    page.locator("#library-message").get_by_text("Removed uploads/Harbour-cranes.txt").wait_for(timeout=WAIT)
    row(page, "uploads/Harbour-cranes.txt").wait_for(state="detached", timeout=WAIT)
    assert not (seeds / "uploads" / "Harbour-cranes.txt").exists()
    page.locator("#index-status").get_by_text("Ready").wait_for(timeout=WAIT)
    answer = ask(page, "How much can the new cranes in Vellmar lift?")
    assert "65 tonnes" not in answer.inner_text()
    assert row(page, "uploads/glacier.md").count() == 1


@pytest.mark.browser
def test_an_upload_over_the_limit_is_refused_with_a_message(library_app, browser, tmp_path: Path) -> None:  # noqa: F811
    url, seeds = library_app
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(url)
    page.locator("#library").get_by_text("Documents").first.click()
    big = tmp_path / "big.txt"
    big.write_text("A long report about the harbour. " * (UPLOAD_LIMIT // 30), encoding="utf-8")
    assert big.stat().st_size > UPLOAD_LIMIT
    page.locator("#library-upload input[type=file]").set_input_files(str(big))
    message = page.get_by_text("exceed the maximum allowed size").first  # Gradio's toast, before sending
    message.wait_for(timeout=30_000)
    assert "big.txt" in message.inner_text()
    page.screenshot(path=str(tmp_path / "too-big.png"), full_page=True)
    assert not (seeds / "uploads" / "big.txt").exists()
