"""The app's event handlers: the streaming chat of the page and the JSON ``/ask`` API. They
check the request, wait for the index, and render what the pipeline yields; nothing else."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.display import visible
from core.errors import InvalidRequestError, QAError
from qa.schema import AnswerEvent

if TYPE_CHECKING:
    from index.metadata import DocumentMetadata
    from qa.pipeline import Pipeline
    from qa.schema import Answer

from ui.render import Pending, escape_html, render_answer, render_notice, render_pending
from ui.status import IndexStatus

log = logging.getLogger("app")


CHAT_TURNS = 20  # earlier turns the chat sends with a question: follow-ups read the last few

Turns = list[list[str]]  # the conversation as the pipeline reads it: [["user", text], ["assistant", text]]
Messages = list[dict[str, str]]  # the Chatbot's value: [{"role": "user", "content": html}, ...]


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
        return {source: self.pipeline.index.metadata(source) for source in set(sources)}

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
        on_answer: Callable[[Answer, float], str] | None = None,
    ) -> Iterator[tuple[Messages, Turns, Any]]:
        """Answer ``question`` in the chat as the pipeline streams it: yields ``(chat, turns,
        question box)`` once per event, the pending answer re-rendered each time. The box is
        emptied by the first update only (``gr.skip()`` after that), so what the user types while
        an answer streams stays there; a refused question stays in the box, and the chat shows why.
        ``on_answer`` (ui/conversations.py) gets the finished answer and the seconds it took; its
        HTML (copy, time, answerer) goes under it."""
        import gradio as gr

        started = time.monotonic()  # conversations: the time shown under the answer

        chat, turns = list(chat or []), list(turns or [])
        try:  # the page's own controls can still send what the request model refuses (a pasted ESC)
            request = self.pipeline.request(
                question, turns[-CHAT_TURNS:], top_k=top_k, answerer=answerer or None
            )
        except InvalidRequestError as error:
            gr.Warning(visible(str(error)))
            yield chat, turns, gr.skip()  # the question stays in the box, to be corrected
            return
        question = request.question
        chat.append({"role": "user", "content": escape_html(question)})
        yield with_reply(chat, render_notice("Searching the articles…", "qa-status")), turns, ""
        for waiting in self.wait_for_index(chat):
            yield waiting, turns, gr.skip()
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
                yield with_reply(chat, shown), turns, gr.skip()
            if answer is None:
                raise QAError("The answer stream ended without an answer; try again")
            sources = [c.source for c in answer.citations] + [p.source for p in answer.passages]
            final = render_answer(answer, self.metadata(sources), show_passages=show_passages)
            if on_answer is not None:  # conversations: record the answer, add its copy/time line
                final += on_answer(answer, time.monotonic() - started)
        except QAError as error:
            yield with_reply(chat, render_notice(str(error))), turns, gr.skip()
            return
        except Exception as error:  # shown as a message; the traceback goes to the server log
            log.exception("Answering %r failed", question)
            message = f"Something went wrong ({type(error).__name__}); the server log has details."
            yield with_reply(chat, render_notice(message)), turns, gr.skip()
            return
        turns += [["user", question], ["assistant", answer.text]]
        yield with_reply(chat, final), turns, gr.skip()

    @staticmethod
    def stopped(chat: Messages | None) -> Messages:
        """The Stop button's handler: the answer cut off where it was, said so."""
        chat = list(chat or [])
        if chat and chat[-1].get("role") == "assistant":
            content = str(chat[-1].get("content") or "")
            chat[-1] = {"role": "assistant", "content": content + render_notice("Stopped.", "qa-status")}
        return chat

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
