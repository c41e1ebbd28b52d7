"""Sessions at once: 8 conversations of 3 questions with follow-ups, asked together through one
``Pipeline`` and through the real app's ``/chat`` over HTTP, each answer compared with the one its
conversation got alone (cross-talk would change it); and a question held mid-answer while others
are answered (a lock around answering would make them wait).

    HF_HUB_OFFLINE=1 python -m pytest tests/test_concurrency.py -q     # about a minute

The 16 sessions x 10 questions figures: ``scripts/bench_concurrency.py`` (docs/bench).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import app
from qa.eval.sessions import chat_asker, compare, make_conversations, pipeline_asker, run
from qa.extractive.answerer import ExtractiveAnswerer
from qa.pipeline import Pipeline
from tests.test_app import serve
from tests.test_bad_input import call_ask

SESSIONS, TURNS = 8, 3


def test_sessions_on_one_pipeline_keep_apart(pipeline) -> None:  # type: ignore[no-untyped-def]
    conversations = make_conversations(SESSIONS, TURNS)
    alone = run(pipeline_asker(pipeline), conversations, threads=1)
    together = run(pipeline_asker(pipeline), conversations, threads=SESSIONS)
    assert not alone.errors and not together.errors, together.errors
    assert len(together.answers) == SESSIONS * TURNS
    assert compare(alone, together) == []


class Held:
    """An answerer that stops mid-answer until released: the extractive answer after that."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self._extractive = ExtractiveAnswerer()

    def stream(self, resolved: Any, passages: Any, library: Any) -> Iterator[Any]:
        self.started.set()
        assert self.release.wait(60), "never released"
        yield from self._extractive.stream(resolved, passages, library)


@pytest.fixture(scope="module")
def app_port(seeds_settings, embeddings):  # type: ignore[no-untyped-def]
    held = Held()
    pipeline = Pipeline(seeds_settings, embeddings=embeddings, answerers={"held": held})
    asgi = app.create_app(pipeline)
    assert asgi.state.index_status.wait(120), asgi.state.index_status.message
    with serve(asgi) as port:
        yield port, held


def test_sessions_over_the_chat_keep_apart(app_port) -> None:  # type: ignore[no-untyped-def]
    port, _ = app_port
    conversations = make_conversations(SESSIONS, TURNS)
    url = f"http://127.0.0.1:{port}/"
    alone = run(chat_asker(url), conversations, threads=1)
    together = run(chat_asker(url), conversations, threads=SESSIONS)
    assert not alone.errors and not together.errors, together.errors
    assert len(together.answers) == SESSIONS * TURNS
    assert compare(alone, together) == []
    assert "Ukrainian intelligence" in together.answers[(0, 0)] or any(
        "qa-cite" in answer for answer in together.answers.values()
    )


def test_a_question_in_progress_does_not_hold_up_the_others(app_port) -> None:  # type: ignore[no-untyped-def]
    port, held = app_port
    held.started.clear()
    held.release.clear()
    slow: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: slow.update(call_ask(port, "Who reported 12,000 troops?", {"answerer": "held"}))
    )
    thread.start()
    try:
        assert held.started.wait(60)
        for question in ("Who reported 12,000 troops?", "When was the treaty signed?"):  # while it waits
            assert "text" in call_ask(port, question, {})
        assert thread.is_alive() and not slow  # still held: the others did not wait for it
    finally:
        held.release.set()
        thread.join(60)
    assert "Ukrainian intelligence" in slow["text"]
