"""Saved conversations and answer feedback for the page: the sidebar's handlers (new, switch,
rename, delete, restore on reload), the chat wrapped so that each exchange is saved, regenerate,
thumbs up/down with a comment, and the line under each answer (copy, time taken, answerer).

The records live in :class:`ui.store.ChatStore`; the answering stays in :class:`ui.chat.Chat`.
The browser keeps only the current conversation's id (``gr.BrowserState``), so a reload reopens it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.display import visible
from ui.errors import ChatStoreError
from ui.render import escape_html

if TYPE_CHECKING:
    import gradio as gr

    from index.metadata import DocumentMetadata
    from qa.schema import Answer
    from ui.chat import Chat, Messages, Turns
    from ui.store import ChatStore

log = logging.getLogger("app")

TITLE_CHARS = 60  # a new conversation is named after its first question, cut to this
STORAGE_KEY = "qa-conversation"  # the browser's localStorage key of the current conversation's id
# gr.BrowserState encrypts what it stores, with a new random key each start unless given one: then a
# reload after a restart would lose the conversation. The id is no secret (the sidebar lists them all).
STORAGE_SECRET = "qa-conversation-id"

# Installed once on the page (gr.HTML's js_on_load): a click on an answer's Copy button puts the
# answer with its footnotes (the hidden .qa-copy-text beside it) on the clipboard. The Chatbot's
# sanitiser strips onclick and data-* attributes, not classes.
COPY_JS = """
if (!window.qaCopyInstalled) {
  window.qaCopyInstalled = true;
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('.qa-copy');
    if (!button) return;
    const source = button.parentElement.querySelector('.qa-copy-text');
    const text = source ? source.textContent : '';
    window.qaCopied = text;
    const done = () => { button.textContent = 'Copied'; setTimeout(() => { button.textContent = 'Copy'; }, 1500); };
    if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, done); else done();
  });
}
"""

CSS = """
.qa-actions { display: flex; gap: .6rem; align-items: center; color: var(--body-text-color-subdued);
              font-size: .85rem; margin-top: .3rem; }
.qa-copy { border: 1px solid var(--border-color-primary); border-radius: 4px; padding: 0 .45rem;
           background: none; cursor: pointer; color: inherit; font-size: .8rem; }
.qa-copy-text { display: none; }
"""


def footnote(
    n: int, title: str, publisher: str | None, quote: str, source: str, start: int, end: int, url: str | None
) -> str:
    """One citation as a footnote.

    >>> footnote(1, "Troops", "Reuters", "12,000.", "001.txt", 5, 12, "https://r.com/a")
    '[1] Troops, Reuters — "12,000." (001.txt, chars 5-12, https://r.com/a)'
    """
    where = ", ".join(part for part in (source, f"chars {start}-{end}", url) if part)
    name = ", ".join(part for part in (title, publisher) if part)
    return f'[{n}] {name} — "{quote}" ({where})'


def copy_text(answer: Answer, metadata: dict[str, DocumentMetadata]) -> str:
    """The answer's text with its ``[n]`` markers, then one footnote per citation."""
    notes = []
    for c in answer.citations:
        meta = metadata.get(c.source)
        title = c.title or (meta.title if meta else None) or c.source
        publisher = meta.publisher if meta else None
        notes.append(
            footnote(
                c.n,
                title,
                publisher,
                c.quote,
                c.source,
                c.start,
                c.end,
                c.url or (meta.url if meta else None),
            )
        )
    return answer.text + ("\n\n" + "\n".join(notes) if notes else "")


def render_actions(answer: Answer, elapsed: float, metadata: dict[str, DocumentMetadata]) -> str:
    """The line under an answer: a Copy button (its text in a hidden span: the Chatbot's Markdown
    must see no blank line, so newlines are ``&#10;``) and the time taken and the answerer."""
    text = escape_html(copy_text(answer, metadata), quote=False).replace("\n", "&#10;")
    took = f"{elapsed:.1f} s" if elapsed >= 1 else f"{elapsed * 1000:.0f} ms"
    return (
        f'<div class="qa-actions"><button type="button" class="qa-copy">Copy</button>'
        f'<span class="qa-copy-text">{text}</span>'
        f'<span class="qa-took">answered in {took} by {escape_html(answer.answerer)}</span></div>'
    )


def title_for(question: str) -> str:
    """``'Who reported 12,000 troops?'``; a long question cut at a word, with an ellipsis."""
    question = " ".join(question.split())
    if len(question) <= TITLE_CHARS:
        return question or "New conversation"
    return question[:TITLE_CHARS].rsplit(" ", 1)[0] + "…"


@dataclass
class Conversations:
    """The page's conversation handlers over one :class:`~ui.store.ChatStore`."""

    chat: Chat
    store: ChatStore
    warned: int = 0  # the store's ``damaged`` count last said on a page

    def __post_init__(self) -> None:
        self.warned = self.store.damaged  # found at start: the conversations panel says so

    def notice(self) -> Any:
        """The conversations panel's notice: why the conversations are not saved as usual, if so."""
        import gradio as gr

        return gr.Markdown(value=escape_html(self.store.notice), visible=bool(self.store.notice))

    # --- the sidebar

    def listing(self, current: str | None) -> Any:
        """The sidebar's list of conversations, ``current`` selected."""
        import gradio as gr

        choices = [(c.title, c.id) for c in self.store.conversations()]
        ids = {cid for _, cid in choices}
        if self.store.damaged > self.warned:  # found damaged since: moved aside, said once
            self.warned = self.store.damaged
            gr.Warning(visible(self.store.notice))
        return gr.Radio(choices=choices, value=current if current in ids else None)

    def open(self, conversation_id: str | None) -> tuple[Messages, Turns, str, str, Any, str]:
        """``(chat, turns, current id, current id for the browser, sidebar list, rename box)`` of a
        saved conversation; an empty chat when there is none under that id (deleted, or another
        data folder)."""
        conversation = self.store.get(conversation_id) if conversation_id else None
        if conversation is None:
            return [], [], "", "", self.listing(None), ""
        chat = [{"role": m.role, "content": m.html} for m in self.store.messages(conversation.id)]
        cid = conversation.id
        return chat, conversation.turns, cid, cid, self.listing(cid), conversation.title

    def remember(self, conversation_id: str | None) -> tuple[str, Any]:
        """After an answer: the open conversation's id for the browser (a reload reopens it), and
        the sidebar list with it selected."""
        return conversation_id or "", self.listing(conversation_id)

    def new(self) -> tuple[Messages, Turns, str, str, Any, str]:
        """An empty chat; the conversation is saved with its first question."""
        return self.open(None)

    def rename(self, conversation_id: str | None, title: str) -> Any:
        if conversation_id and self.store.get(conversation_id) and title.strip():
            self.store.rename(conversation_id, title)
        return self.listing(conversation_id)

    def delete(self, conversation_id: str | None) -> tuple[Messages, Turns, str, str, Any, str]:
        if conversation_id:
            self.store.delete(conversation_id)
        return self.new()

    # --- asking, saved

    def respond(
        self,
        question: str,
        chat: Messages | None,
        turns: Turns | None,
        top_k: float,
        answerer: str,
        show_passages: bool,
        current: str | None,
    ) -> Iterator[tuple[Messages, Turns, str, str]]:
        """:meth:`ui.chat.Chat.respond`, then the exchange saved in the current conversation (a new
        one for the first question): yields ``(chat, turns, question box, current id)``. The
        sidebar follows with :meth:`remember` (the ``/chat`` API keeps its inputs and outputs)."""
        before, history = list(chat or []), list(turns or [])
        answered: dict[str, Any] = {}

        def on_answer(answer: Answer, elapsed: float) -> str:
            answered.update(answer=answer, elapsed=elapsed)
            sources = {c.source for c in answer.citations}
            return render_actions(answer, elapsed, self.chat.metadata(sources))

        last = None
        for last in self.chat.respond(
            question, before, history, top_k, answerer, show_passages, on_answer=on_answer
        ):
            yield (*last, current or "")
        if last is None or len(last[0]) <= len(before):  # refused as sent: nothing shown, nothing saved
            return
        shown, new_turns, box = last
        added = shown[len(before) :]
        answer: Answer | None = answered.get("answer")
        asked = answer.question if answer is not None else question.strip()
        messages: list[dict[str, Any]] = []
        for m in added:
            content = m["content"] if isinstance(m["content"], str) else str(m["content"])
            if m["role"] == "user":
                messages.append({"role": "user", "html": content, "text": asked})
            else:
                reply: dict[str, Any] = {"role": "assistant", "html": content, "history": history}
                if answer is not None:
                    reply |= {
                        "text": answer.text,
                        "answer": answer.to_dict(),
                        "elapsed": answered["elapsed"],
                        "answerer": answer.answerer,
                    }
                messages.append(reply)
        try:
            conversation = self.store.get(current) if current else None
            if conversation is None:
                conversation = self.store.create(title_for(asked))
            self.store.save_exchange(conversation.id, len(before), messages, new_turns)
        except ChatStoreError as error:  # the file found damaged as it was written: said, not saved
            import gradio as gr

            self.warned = self.store.damaged
            gr.Warning(visible(str(error)))
            yield shown, new_turns, box, ""
            return
        yield shown, new_turns, box, conversation.id

    def regenerate(
        self,
        chat: Messages | None,
        top_k: float,
        answerer: str,
        show_passages: bool,
        current: str | None,
    ) -> Iterator[tuple[Messages, Turns, str, str]]:
        """The last question asked again with the same history; its new answer replaces the old."""
        import gradio as gr

        messages = self.store.messages(current) if current else []
        asked = [m for m in messages if m.role == "user"]
        if not asked:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        question = asked[-1]
        reply = next((m for m in messages if m.position == question.position + 1), None)
        history = reply.history if reply and reply.history is not None else []
        kept = list(chat or [])[: question.position]
        yield from self.respond(question.text, kept, history, top_k, answerer, show_passages, current)

    # --- feedback

    def rate(self, current: str | None, data: gr.LikeData) -> tuple[int | None, Any, Any]:
        """A thumbs up/down on an answer, stored at once: ``(feedback id, comment row, comment box)``."""
        import gradio as gr

        index = data.index if isinstance(data.index, int) else data.index[0]
        message = self.store.message_at(current, index) if current else None
        if message is None or message.role != "assistant" or data.liked in (None, ""):
            return None, gr.Row(visible=False), gr.Textbox(value="")
        rating = "up" if data.liked is True or str(data.liked).lower() == "like" else "down"
        feedback_id = self.store.add_feedback(message, current or "", rating)
        label = (
            "What was good about this answer? (optional)" if rating == "up" else "What was wrong? (optional)"
        )
        return feedback_id, gr.Row(visible=True), gr.Textbox(value="", label=label)

    def like_handler(self) -> Any:
        """:meth:`rate` as Gradio calls it: the ``gr.LikeData`` annotation resolved (this module
        does not import gradio at import time, and Gradio reads the annotation to pass the event)."""
        import gradio as gr

        def rate(current: str | None, data: Any) -> tuple[int | None, Any, Any]:
            return self.rate(current, data)

        rate.__annotations__ = {"current": str, "data": gr.LikeData, "return": tuple}
        return rate

    def comment(self, feedback_id: int | None, text: str) -> tuple[None, Any, Any]:
        """The comment added to the rating just given; the comment row hidden again."""
        import gradio as gr

        if feedback_id is not None and text.strip():
            self.store.comment(feedback_id, text)
            gr.Info("Thanks: your feedback is saved.")
        return None, gr.Row(visible=False), gr.Textbox(value="")
