"""The page: status line, chat, question box, examples and a collapsed settings panel, wired to
the handlers of :mod:`ui.chat`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import gradio as gr

    from qa.settings import Settings

from ui.chat import Chat
from ui.library import LIBRARY_CSS, Library, library_panel
from ui.status import IndexStatus

log = logging.getLogger("app")


EXAMPLES = [
    "Who reported 12,000 troops?",
    "What did Kremlin spokesman Dmitry Peskov call the reports of North Korean troops?",
    "Near which city were North Korean officers killed on October 3?",
    "What has North Korea given Russia for use in Ukraine?",
    "Who wrote 'Rumor of North Korea Troops in Ukraine Shows Threat to the West'?",
]
DOC_ROUTE = "doc"  # the document view lives at /doc/{source}; links to it are relative to the page
SNIPPET_CHARS = 280
CHAT_TURNS = 20  # earlier turns the chat sends with a question: follow-ups read the last few
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
"""
CSS += LIBRARY_CSS  # the document library (ui/library.py)


def build_ui(chat: Chat, settings: Settings) -> gr.Blocks:
    """The page: status line, chat, question box, examples and a collapsed settings panel."""
    import gradio as gr

    with gr.Blocks(title="Ask the articles", analytics_enabled=False) as ui:
        gr.Markdown(
            "## Ask the articles\nQuestions about North Korean troops in Russia's war on Ukraine, answered "
            "from the indexed articles, with every sentence cited."
        )
        status = gr.Markdown(chat.status.describe(), elem_id="index-status")
        chatbot = gr.Chatbot(
            label="Chat",
            show_label=False,
            elem_id="chat",
            height=520,
            latex_delimiters=[],
            buttons=[],
            feedback_options=None,
            placeholder="Ask a question, or pick an example below.",
        )
        turns = gr.State([])
        with gr.Row():
            question = gr.Textbox(
                placeholder="Ask about the articles…",
                show_label=False,
                scale=8,
                elem_id="question",
                max_length=settings.max_question_chars,
            )
            ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
        examples = gr.Dataset(
            components=[question], samples=[[q] for q in EXAMPLES], label="Examples", elem_id="examples"
        )
        with gr.Accordion("Settings", open=False, elem_id="settings"):
            top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Passages to retrieve (top_k)")
            names = chat.pipeline.answerer_names  # the default first; "llm" when the extra is installed
            answerer = gr.Dropdown(
                names,
                value=settings.answerer if settings.answerer in names else names[0],
                label="Answerer",
                info=". ".join(f"{n}: {ANSWERER_HELP[n]}" for n in names if n in ANSWERER_HELP) + ".",
                elem_id="answerer",
            )
            show_passages = gr.Checkbox(label="Show the retrieved passages with their scores", value=False)

        # --- the document library (ui/library.py): the indexed documents, uploads, removal
        library_panel(Library(chat.pipeline, chat.status), ui)
        # --- end of the document library

        inputs = [question, chatbot, turns, top_k, answerer, show_passages]
        outputs = [chatbot, turns, question]
        limit = settings.concurrency  # no lock around answering: sessions wait only when more than this ask
        respond: dict[str, Any] = dict(
            fn=chat.respond, inputs=inputs, outputs=outputs, concurrency_limit=limit
        )
        question.submit(**respond, api_name="chat", api_visibility="undocumented")
        ask.click(**respond, api_visibility="private")
        examples.click(lambda sample: sample[0], examples, question, api_visibility="private").then(
            **respond, api_visibility="private"
        )
        chatbot.clear(lambda: [], None, turns, api_visibility="private")  # the Chatbot's own bin button
        gr.api(chat.ask, api_name="ask", concurrency_limit=limit)

        timer = gr.Timer(1.0)
        update = _status_update(chat.status)
        ui.load(update, None, [status, timer], api_visibility="private")
        timer.tick(update, None, [status, timer], api_visibility="private")
    return ui


def _status_update(status: IndexStatus) -> Callable[[], tuple[str, Any]]:
    """The timer's handler: the status line, and the timer stopped when no build can report any more."""

    def update() -> tuple[str, Any]:
        import gradio as gr

        # Running while a build may report: until the first answer, during an update, and for as
        # long as the seeds folder is followed (a seed edited later is indexed in the background).
        active = not status.failed and (not status.ready or status.updating or status.watching)
        return status.describe(), gr.Timer(active=active)

    return update
