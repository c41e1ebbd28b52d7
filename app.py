"""The chat UI: ask questions about the articles in the browser and get cited answers.

    python app.py                          # http://127.0.0.1:7860
    python app.py --port 8080              # or GRADIO_SERVER_PORT=8080; --host / GRADIO_SERVER_NAME
    QA_DATA_DIR=/tmp/qa python app.py      # any ``QA_`` setting (core/settings.py, ui/settings.py) applies

What it does: a Gradio chat that shows an answer as :meth:`qa.pipeline.Pipeline.stream` yields it:
the answerer's text as it is written, each sentence with its ``[n]`` links and sources once it is
verified, and the finished answer with its source list, the sentences the judge did not support
(marked, or listed as removed) and any notice (an LLM that failed, a fallback); a document view at
``/doc/{source}?start=..&end=..`` that shows an indexed document, HTML-escaped, with the cited span
highlighted; a background build of the index on first start, with its progress on the page. What it
does not do: answer, verify or pace the text. Every word comes from the pipeline as it yields it;
this module only renders it.

Gradio's API stays on. ``/ask`` returns the whole answer as JSON (``Answer.to_dict()``):

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/")
    print(client.predict("Who reported 12,000 troops?", api_name="/ask")["text"])
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.display import visible
from core.errors import QAError
from ui.chat import Chat
from ui.document_view import add_document_route
from ui.layout import CSS, build_ui, head
from ui.render import DOC_ROUTE
from ui.settings import AppSettings
from ui.status import IndexStatus, start_index

if TYPE_CHECKING:
    from fastapi import FastAPI

    from qa.pipeline import Pipeline

log = logging.getLogger("app")

DEFAULT_PORT = 7860
DEFAULT_HOST = "127.0.0.1"


def create_app(
    pipeline: Pipeline,
    *,
    status: IndexStatus | None = None,
    prepare: bool = True,
    host: str = DEFAULT_HOST,
    settings: AppSettings | None = None,
) -> FastAPI:
    """The ASGI app: the document view at ``/doc/...`` and the Gradio page at ``/``, with the
    exposure checks of ui/exposure.py (log-in when set, Host names for ``host``, body size, upload size).

    Starts building/opening the index in the background unless ``prepare`` is off (then the caller
    runs :func:`prepare_index`). The status is ``app.state.index_status``. ``settings`` are the
    app's (by default the pipeline's, with the app's own read from the environment).
    """
    import gradio as gr
    from fastapi import FastAPI

    from ui import exposure
    from ui.store import ChatStore

    settings = settings or AppSettings.of(pipeline.settings)
    status = status or IndexStatus()
    app = FastAPI(title="Ask the articles", docs_url=None, redoc_url=None)
    app.state.index_status = status
    add_document_route(app, pipeline, status)  # before the mount, which takes every other path
    store = ChatStore(settings.resolved_chat_db)  # one that cannot be used says why in store.notice
    ui = build_ui(Chat(pipeline, status), settings, store)
    # Local fonts only: the default theme's web fonts would be fetched from the internet.
    theme = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace"])
    options = exposure.gradio_options(settings)  # the log-in, and the largest upload
    app = gr.mount_gradio_app(
        app, ui, path="", theme=theme, css=CSS, head=head(), footer_links=["api", "gradio"], **options
    )
    exposure.protect(app, settings, host=host, private=[f"/{DOC_ROUTE}"])
    if prepare:
        start_index(pipeline, status)
    return app


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Chat with the articles in the browser (Gradio).")
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", DEFAULT_HOST),
        help=f"address to listen on (default: $GRADIO_SERVER_NAME or {DEFAULT_HOST})",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", DEFAULT_PORT)),
        help=f"port to listen on (default: $GRADIO_SERVER_PORT or {DEFAULT_PORT})",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Read the settings, start the index build and serve the app until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import uvicorn

    from qa.pipeline import Pipeline

    try:
        settings = AppSettings.load()
        from ui.exposure import check_bind

        check_bind(args.host, settings)  # a non-loopback address needs a log-in or the waiver
        app = create_app(
            Pipeline(settings), host=args.host, settings=settings
        )  # a malformed QA_AUTH_FILE stops here
    except QAError as error:
        print(f"error: {visible(str(error))}", file=sys.stderr)
        raise SystemExit(1) from None
    log.info("Serving http://%s:%d/ (index: %s)", args.host, args.port, settings.resolved_index_dir)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
