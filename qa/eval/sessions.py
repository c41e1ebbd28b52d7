"""Many conversations at once: are answers kept apart, and how long do they wait?

A conversation is a list of questions asked in turn, each with the conversation so far as its
history; follow-ups ("And how many did U.S. intelligence say?") only make sense after the question
before them, so an answer given with another session's history shows. :func:`run` asks every
conversation from its own thread through an ``ask(session, question) -> str`` callable (one
``Pipeline``, or the app's ``/chat`` over HTTP) and :func:`compare` checks each answer against the
one the same conversation got when asked alone: any difference is cross-talk (or nondeterminism,
which this project's extractive answers do not have).

    conversations = make_conversations(8, 3)
    alone = run(ask, conversations, threads=1)
    together = run(ask, conversations, threads=8)
    assert not compare(alone, together) and not together.errors

Used by ``tests/test_concurrency.py`` and ``scripts/bench_concurrency.py``. Questions come from the
development split only (never the held-out one).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.settings import PROJECT_ROOT

QUESTIONS = PROJECT_ROOT / "tests" / "data" / "dev_questions.jsonl"
Ask = Callable[[int, str], str]  # (session number, question) -> the answer as the entry point shows it


def make_conversations(sessions: int, length: int, path: Path = QUESTIONS) -> list[list[str]]:
    """``sessions`` conversations of ``length`` questions from the development split: each
    follow-up comes right after the question it follows; conversations start at different places,
    so that sessions asked at once ask different things.

    >>> [len(c) for c in make_conversations(3, 4)]
    [4, 4, 4]
    """
    from qa.eval.questions import load_questions

    units: list[list[str]] = []  # a follow-up with its first question, or one question alone
    for question in load_questions(path, "dev"):
        if question.history:
            units.append([question.history[0][1], question.question])
        elif question.answerable:
            units.append([question.question])
    followups = [u for u in units if len(u) == 2]
    singles = [u for u in units if len(u) == 1]
    pool = [unit for pair in zip(followups, singles[: len(followups)], strict=False) for unit in pair]
    pool += singles[len(followups) :]
    conversations = []
    for session in range(sessions):
        asked: list[str] = []
        i = session * 3  # a different starting point per session
        while len(asked) < length:
            asked += pool[i % len(pool)]
            i += 1
        conversations.append(asked[:length])
    return conversations


@dataclass
class Run:
    """What :func:`run` saw: each answer by ``(session, turn)``, each question's seconds, the errors."""

    answers: dict[tuple[int, int], str] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0


def run(ask: Ask, conversations: list[list[str]], threads: int) -> Run:
    """Ask every conversation, ``threads`` at a time (a thread asks one conversation's questions in
    turn); all threads start together."""
    result = Run()
    lock = threading.Lock()
    start = threading.Barrier(min(threads, len(conversations)))
    queue = list(enumerate(conversations))

    def worker() -> None:
        start.wait()
        while True:
            with lock:
                if not queue:
                    return
                session, questions = queue.pop(0)
            for turn, question in enumerate(questions):
                began = time.perf_counter()
                try:
                    answer = ask(session, question)
                except Exception as error:  # counted, not raised: the run goes on
                    with lock:
                        result.errors.append(
                            f"session {session} turn {turn}: {type(error).__name__}: {error}"
                        )
                    break
                with lock:
                    result.seconds.append(time.perf_counter() - began)
                    result.answers[(session, turn)] = answer

    began = time.perf_counter()
    workers = [threading.Thread(target=worker) for _ in range(min(threads, len(conversations)))]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    result.wall = time.perf_counter() - began
    return result


def compare(alone: Run, together: Run) -> list[tuple[int, int]]:
    """The ``(session, turn)`` whose answer differs between the two runs (or is missing from one)."""
    keys = set(alone.answers) | set(together.answers)
    return sorted(k for k in keys if alone.answers.get(k) != together.answers.get(k))


def pipeline_asker(pipeline: object) -> Ask:
    """``ask`` over one shared :class:`~qa.pipeline.Pipeline`, a history per session."""
    histories: dict[int, list[tuple[str, str]]] = {}

    def ask(session: int, question: str) -> str:
        history = histories.setdefault(session, [])
        answer = pipeline.ask(question, list(history))  # type: ignore[attr-defined]
        history += [("user", question), ("assistant", answer.text)]
        return str(answer.text)

    return ask


# The line under an answer (ui/conversations.py): its time taken differs from run to run.
_ACTIONS = re.compile(r'<div class="qa-actions">.*?</div>', re.S)


def chat_asker(url: str, top_k: int = 6, answerer: str = "extractive") -> Ask:
    """``ask`` through the app's ``/chat`` over HTTP, one ``gradio_client.Client`` (one browser
    session, with its own server-side conversation state) per session; the answer is the last
    message's HTML as the page would show it."""
    from gradio_client import Client

    clients: dict[int, tuple[Client, list[object]]] = {}
    lock = threading.Lock()

    def ask(session: int, question: str) -> str:
        with lock:
            if session not in clients:
                clients[session] = (Client(url, verbose=False), [])
        client, chat = clients[session]
        messages, _ = client.predict(question, chat, top_k, answerer, False, api_name="/chat")
        chat[:] = messages
        content = messages[-1]["content"]
        return _ACTIONS.sub("", str(content[0]["text"] if isinstance(content, list) else content))

    return ask
