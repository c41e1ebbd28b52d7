"""The page: status line, chat, question box, examples and a collapsed settings panel, wired to
the handlers of :mod:`ui.chat`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import gradio as gr

    from ui.settings import AppSettings
    from ui.store import ChatStore

from ui import conversations as convo
from ui.chat import Chat
from ui.library import LIBRARY_CSS, Library, library_panel
from ui.render import escape_html
from ui.status import IndexStatus

log = logging.getLogger("app")


EXAMPLES = [
    "Who reported 12,000 troops?",
    "What did Kremlin spokesman Dmitry Peskov call the reports of North Korean troops?",
    "Near which city were North Korean officers killed on October 3?",
    "What has North Korea given Russia for use in Ukraine?",
    "Who wrote 'Rumor of North Korea Troops in Ukraine Shows Threat to the West'?",
]
ANSWERER_HELP = {  # the settings panel's note on each answerer it lists
    "extractive": "quotes the best source sentences (fast)",
    "llm": "a language model writes the answer (slow on a CPU); each sentence is checked against its "
    "quotes, and when too little holds up the extractive answer is shown instead",
}

CSS = """
.qa-message { display: flex; flex-direction: column; gap: .5rem; }
.qa-answer { font-size: 1.02rem; }
.qa-cite { text-decoration: none; font-weight: 600; color: var(--color-accent) !important; }
.qa-sources, .qa-closest { border-top: 1px solid var(--border-color-primary); padding-top: .4rem; font-size: .9rem; }
.qa-sources-head { font-weight: 600; margin-bottom: .2rem; }
.qa-source { margin: .35rem 0 .6rem; }
.qa-n { font-weight: 600; }
.qa-title { font-weight: 600; }
.qa-by, .qa-score, .qa-meta { color: var(--body-text-color-subdued); font-size: .85rem; }
.qa-message .qa-quote { margin: .25rem 0; padding: 0 0 0 .6rem; border-left: 3px solid #f0c000;
                        font-style: italic; }
.qa-refusal, .qa-error, .qa-notice { border: 1px solid; border-radius: 6px; padding: .5rem .7rem; }
.qa-notice { border-color: #2563eb; background: rgba(37, 99, 235, .08); }
.qa-judge { font-weight: 400; color: var(--body-text-color-subdued); font-size: .85rem; margin-left: .3rem; }
.qa-unsupported { text-decoration: underline dotted #dc2626; text-underline-offset: 3px; }
.qa-unsupported-label { font-size: .72rem; color: #b91c1c; border: 1px solid #dc2626; border-radius: 4px;
                        padding: 0 .25rem; white-space: nowrap; }
.qa-dropped { font-size: .85rem; color: var(--body-text-color-subdued); }
.qa-dropped-sentence { margin: .3rem 0 .3rem .6rem; }
.qa-writing { color: var(--body-text-color-subdued); }
.qa-refusal { border-color: #d97706; background: rgba(217, 119, 6, .10); }
.qa-confidence { color: var(--body-text-color-subdued); font-size: .85rem; margin-top: .3rem; }
.qa-unsure { border: 1px solid #d97706; border-radius: 6px; padding: .5rem .7rem; margin-top: .4rem;
  background: rgba(217, 119, 6, .06); }
.qa-unsure-head { font-weight: 700; color: #b45309; }
.qa-refusal-head { font-weight: 700; color: #b45309; }
.qa-error { border-color: #dc2626; background: rgba(220, 38, 38, .08); }
.qa-status { color: var(--body-text-color-subdued); font-style: italic; }
#index-status { font-size: .9rem; }
/* a low-confidence answer is marked as a whole, its "Not sure" first */
.qa-message.qa-low { border-left: 4px solid #d97706; padding-left: .6rem; }
/* compact source cards that open on a click */
details.qa-source > summary { cursor: pointer; list-style-position: outside; }
details.qa-source[open] > summary { margin-bottom: .2rem; }
/* [n] popovers: on hover, on keyboard focus, or after a first tap */
.qa-cite { position: relative; }
.qa-cite .qa-pop { display: none; position: absolute; z-index: 50; left: 0; top: 1.5em; width: min(22rem, 80vw);
  padding: .5rem .6rem; border: 1px solid var(--border-color-primary); border-radius: 6px;
  background: var(--background-fill-primary); color: var(--body-text-color); font-weight: 400;
  font-size: .85rem; box-shadow: 0 4px 14px rgba(0, 0, 0, .15); white-space: normal; }
.qa-cite:hover .qa-pop, .qa-cite:focus .qa-pop, .qa-cite.qa-pop-shown .qa-pop { display: block; }
.qa-cite { -webkit-tap-highlight-color: transparent; }
.qa-answer { position: relative; }
@media (max-width: 700px) {  /* a phone: the popover spans the answer, under its text */
  .qa-cite { position: static; }
  .qa-cite .qa-pop { left: 0; right: 0; top: 100%; width: auto; }
}
.qa-pop-title { display: block; font-weight: 600; }
.qa-pop-by { display: block; color: var(--body-text-color-subdued); }
.qa-pop-quote { display: block; margin-top: .3rem; font-style: italic; }
/* the document beside the chat (below it on a phone) */
#qa-doc-panel { position: fixed; top: 0; right: 0; bottom: 0; width: min(46rem, 48vw); z-index: 1000;
  display: flex; flex-direction: column; background: var(--background-fill-primary);
  border-left: 1px solid var(--border-color-primary); box-shadow: -6px 0 18px rgba(0, 0, 0, .12); }
#qa-doc-panel[hidden] { display: none; }
.qa-panel-bar { display: flex; gap: .8rem; align-items: center; padding: .4rem .7rem;
  border-bottom: 1px solid var(--border-color-primary); }
.qa-panel-title { font-weight: 600; flex: 1; }
.qa-panel-close { font-size: 1.4rem; line-height: 1; background: none; border: none; cursor: pointer; }
.qa-panel-frame { flex: 1; width: 100%; border: 0; }
body.qa-panel-open .gradio-container { margin-right: min(46rem, 48vw) !important; }
@media (max-width: 700px) {
  #qa-doc-panel { top: 35vh; width: 100vw; border-left: 0; border-top: 1px solid var(--border-color-primary); }
  body.qa-panel-open .gradio-container { margin-right: 0 !important; }
}
#qa-count { font-size: .8rem; color: var(--body-text-color-subdued); text-align: right; margin-top: -.4rem; }
#qa-count.qa-over { color: #b91c1c; font-weight: 600; }
#question.qa-queued::after { content: "waits for the answer being written"; font-size: .75rem;
  color: var(--body-text-color-subdued); }
"""
CSS += LIBRARY_CSS  # the document library (ui/library.py)
CSS += convo.CSS  # conversations (ui/conversations.py): the copy button and time line under answers


UPLOAD_SWEEP_SECONDS, UPLOAD_EXPIRE_SECONDS = 60, 900  # Gradio's delete_cache: every minute, past 15
PAGE_JS = Path(__file__).with_name("page.js")  # popovers, the side panel, scrolling, the counter


def head() -> str:
    """What the page's ``<head>`` gets: the script of :file:`ui/page.js`."""
    return f"<script>{PAGE_JS.read_text(encoding='utf-8')}</script>"


def build_ui(chat: Chat, settings: AppSettings, store: ChatStore) -> gr.Blocks:
    """The page: status line, chat, conversations sidebar (saved in ``store``), question box with
    its counter and Ask / Stop, examples, a collapsed settings panel whose limits are shown (nothing
    is cut or clamped silently) and the document library."""
    import gradio as gr

    # Files sent to the upload route and never added by the upload event are deleted after a while.
    expire = (UPLOAD_SWEEP_SECONDS, UPLOAD_EXPIRE_SECONDS)
    with gr.Blocks(title="Ask the articles", analytics_enabled=False, delete_cache=expire) as ui:
        gr.Markdown(
            "## Ask the articles\nQuestions about North Korean troops in Russia's war on Ukraine, answered "
            "from the indexed articles, with every sentence cited."
        )
        status = gr.Markdown(chat.status.describe(), elem_id="index-status")
        page = _Page(chatbot=_chatbot(), turns=gr.State([]))
        sidebar = _sidebar(store)
        page.question, page.ask, page.stop, page.examples = _question_box(settings)
        page.top_k, page.answerer, page.show_passages = _options(chat, settings)
        library_panel(Library(chat.pipeline, chat.status, settings.max_upload_bytes), ui)
        conversations = convo.Conversations(chat, store)
        _wire_answering(page, sidebar, conversations, chat, settings.concurrency)
        _wire_conversations(ui, page, sidebar, conversations, settings.concurrency)
        gr.api(chat.ask, api_name="ask", concurrency_limit=settings.concurrency)

        timer = gr.Timer(1.0)
        update = _status_update(chat.status)
        ui.load(update, None, [status, timer], api_visibility="private")
        timer.tick(update, None, [status, timer], api_visibility="private")
    from ui.api_errors import plain_input_errors

    plain_input_errors(ui)  # a bad value sent to an event is named in plain words, never Gradio's
    return ui


@dataclass
class _Page:
    """The components the answering events read and write."""

    chatbot: Any
    turns: Any  # the exchanges so far, as the pipeline's history
    question: Any = None
    ask: Any = None
    stop: Any = None
    examples: Any = None
    top_k: Any = None
    answerer: Any = None
    show_passages: Any = None


@dataclass
class _Sidebar:
    """The conversations sidebar (ui/conversations.py), and the state it keeps for the page."""

    current: Any  # the open conversation's id; a State, so that the /chat API keeps its inputs
    remembered: Any  # the open conversation's id in the browser, for reloads
    feedback_id: Any
    comment_row: Any
    comment: Any
    send_comment: Any
    new: Any
    listed: Any
    notice: Any
    title: Any
    rename: Any
    delete: Any


def _chatbot() -> Any:
    import gradio as gr

    return gr.Chatbot(
        label="Chat",
        show_label=False,
        elem_id="chat",
        height=520,
        autoscroll=False,  # the page keeps the newest answer's start in view (ui/page.js)
        latex_delimiters=[],
        buttons=[],
        feedback_options=("Like", "Dislike"),  # thumbs up/down, stored by Conversations.rate
        placeholder="Ask a question, or pick an example below.",
    )


def _sidebar(store: ChatStore) -> _Sidebar:
    """Saved conversations in a sidebar, and the comment box a rating opens under the chat."""
    import gradio as gr

    current = gr.State("")
    remembered = gr.BrowserState("", storage_key=convo.STORAGE_KEY, secret=convo.STORAGE_SECRET)
    feedback_id = gr.State(None)
    with gr.Row(visible=False, elem_id="feedback-comment") as comment_row:
        comment = gr.Textbox(show_label=True, label="Comment (optional)", scale=8, elem_id="feedback-text")
        send_comment = gr.Button("Send", scale=1, elem_id="feedback-send")
    gr.HTML("", js_on_load=convo.COPY_JS, elem_id="qa-copy-js", container=False)
    with gr.Sidebar(label="Conversations", open=True, elem_id="conversations-panel"):
        new = gr.Button("New conversation", variant="primary", elem_id="new-conversation")
        listed = gr.Radio(choices=[], label="Conversations", elem_id="conversations")
        notice = gr.Markdown(
            escape_html(store.notice), visible=bool(store.notice), elem_id="conversations-notice"
        )  # why the conversations are not saved as usual (a read-only folder, a damaged file)
        title = gr.Textbox(label="Title", elem_id="conversation-title")
        with gr.Row():
            rename = gr.Button("Rename", size="sm", elem_id="rename-conversation")
            delete = gr.Button("Delete", size="sm", variant="stop", elem_id="delete-conversation")
    return _Sidebar(
        current, remembered, feedback_id, comment_row, comment, send_comment, new, listed, notice, title,
        rename, delete,
    )  # fmt: skip


def _question_box(settings: AppSettings) -> tuple[Any, Any, Any, Any]:
    """The question box, Ask and Stop, the character counter under it and the examples."""
    import gradio as gr

    with gr.Row():
        question = gr.Textbox(
            placeholder="Ask about the articles…",
            show_label=False,
            scale=8,
            elem_id="question",
            autofocus=True,
        )
        ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
        stop = gr.Button("Stop", variant="stop", scale=1, elem_id="stop", visible=False)
    limit_chars = settings.max_question_chars
    gr.HTML(
        f'<div id="qa-count" data-limit="{limit_chars}" aria-live="polite">0 / {limit_chars:,}</div>',
        elem_id="qa-count-box",
    )
    examples = gr.Dataset(
        components=[question], samples=[[q] for q in EXAMPLES], label="Examples", elem_id="examples"
    )
    return question, ask, stop, examples


def _options(chat: Chat, settings: AppSettings) -> tuple[Any, Any, Any]:
    """The collapsed settings panel: passages to retrieve, the answerer, the passages shown."""
    import gradio as gr

    from core.settings import MAX_TOP_K

    with gr.Accordion("Settings", open=False, elem_id="settings"):
        top_k = gr.Slider(
            1,
            MAX_TOP_K,
            value=settings.top_k,
            step=1,
            label="Passages to retrieve (top_k)",
            info=f"1 to {MAX_TOP_K}; the answer quotes at most {settings.max_answer_sentences} sentences",
        )
        names = chat.pipeline.answerer_names  # the default first; "llm" when the extra is installed
        answerer = gr.Dropdown(
            names,
            value=settings.answerer if settings.answerer in names else names[0],
            label="Answerer",
            info=". ".join(f"{n}: {ANSWERER_HELP[n]}" for n in names if n in ANSWERER_HELP) + ".",
            elem_id="answerer",
            visible=len(names) > 1,  # one choice is no choice: said below instead
        )
        if len(names) == 1:
            gr.Markdown(
                f"Answerer: **{names[0]}** ({ANSWERER_HELP.get(names[0], '')}). LLM answers need the "
                "`llm` extra (README, LLM answers).",
                elem_id="answerer-note",
            )
        show_passages = gr.Checkbox(label="Show the retrieved passages with their scores", value=False)
    return top_k, answerer, show_passages


def _wire_answering(
    page: _Page, sidebar: _Sidebar, conversations: convo.Conversations, chat: Chat, limit: int
) -> None:
    """Ask, Enter or an example: Ask becomes Stop, the answer streams into the open conversation,
    Stop becomes Ask again. No lock around answering: sessions wait only when more than ``limit`` ask."""
    import gradio as gr

    inputs = [page.question, page.chatbot, page.turns, page.top_k, page.answerer, page.show_passages]
    respond: dict[str, Any] = dict(
        fn=conversations.respond,
        inputs=[*inputs, sidebar.current],
        outputs=[page.chatbot, page.turns, page.question, sidebar.current],
        concurrency_limit=limit,
        trigger_mode="always_last",  # a question sent while one streams runs after it, not never
    )
    swap: dict[str, Any] = dict(outputs=[page.ask, page.stop], queue=False, api_visibility="private")

    def busy() -> tuple[Any, Any]:
        return gr.Button(visible=False), gr.Button(visible=True)

    def idle() -> tuple[Any, Any]:
        return gr.Button(visible=True), gr.Button(visible=False)

    answering = [
        page.question.submit(busy, **swap).then(**respond, api_name="chat", api_visibility="undocumented"),
        page.ask.click(busy, **swap).then(**respond, api_visibility="private"),
        page.examples.click(lambda sample: sample[0], page.examples, page.question, api_visibility="private")
        .then(busy, **swap)
        .then(**respond, api_visibility="private"),
    ]
    for event in answering:  # the sidebar and the browser follow the answer
        event.then(**_remember(sidebar, conversations)).then(idle, **swap)
    page.stop.click(
        chat.stopped, page.chatbot, page.chatbot, cancels=answering, queue=False, api_visibility="private"
    ).then(idle, **swap)


def _remember(sidebar: _Sidebar, conversations: convo.Conversations) -> dict[str, Any]:
    """The event that, after an answer, lists the conversation and remembers it in the browser."""
    return dict(
        fn=conversations.remember,
        inputs=sidebar.current,
        outputs=[sidebar.remembered, sidebar.listed],
        api_visibility="private",
    )


def _wire_conversations(
    ui: gr.Blocks, page: _Page, sidebar: _Sidebar, conversations: convo.Conversations, limit: int
) -> None:
    """Open, start, rename and delete conversations; regenerate an answer; rate it and comment."""
    private: dict[str, Any] = dict(api_visibility="private")
    s = sidebar
    opened = [page.chatbot, page.turns, s.current, s.remembered, s.listed, s.title]
    page.chatbot.clear(conversations.new, None, opened, **private)  # the Chatbot's bin button
    ui.load(conversations.open, s.remembered, opened, **private)  # a reload reopens the conversation
    ui.load(conversations.notice, None, s.notice, **private)  # and says what was found since
    s.new.click(conversations.new, None, opened, **private)
    s.listed.input(conversations.open, s.listed, opened, **private)
    s.rename.click(conversations.rename, [s.current, s.title], s.listed, **private)
    s.title.submit(conversations.rename, [s.current, s.title], s.listed, **private)
    s.delete.click(conversations.delete, s.current, opened, **private)
    again = [page.chatbot, page.top_k, page.answerer, page.show_passages, s.current]
    page.chatbot.retry(
        conversations.regenerate,
        again,
        [page.chatbot, page.turns, page.question, s.current],
        concurrency_limit=limit,
        **private,
    ).then(**_remember(sidebar, conversations))
    rated = [s.feedback_id, s.comment_row, s.comment]
    page.chatbot.like(conversations.like_handler(), s.current, rated, **private)
    s.send_comment.click(conversations.comment, [s.feedback_id, s.comment], rated, **private)
    s.comment.submit(conversations.comment, [s.feedback_id, s.comment], rated, **private)


def _status_update(status: IndexStatus) -> Callable[[], tuple[str, Any]]:
    """The timer's handler: the status line, and the timer stopped when no build can report any more."""

    def update() -> tuple[str, Any]:
        import gradio as gr

        # Running while a build may report: until the first answer, during an update, and for as
        # long as the seeds folder is followed (a seed edited later is indexed in the background).
        active = not status.failed and (not status.ready or status.updating or status.watching)
        return status.describe(), gr.Timer(active=active)

    return update
