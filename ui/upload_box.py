"""The document library's upload box: Gradio's file box that takes only files a client sent.

A Gradio event's data names its files by path (``{"path": ..., "meta": {"_type":
"gradio.FileData"}}``), and a hostile client can name any path, or a URL, in place of the file it
uploaded. Gradio checks the path only once ``launch()`` has run (``Blocks.has_launched``, which a
mounted app never sets: :func:`ui.exposure.protect` sets it), and fetches a URL whatever it is.
This box refuses both before Gradio copies or fetches anything: what it takes is a regular file
inside Gradio's upload folder, where ``/gradio_api/upload`` stored the bytes of this client's request.

    box = upload_box(file_count="multiple", type="filepath")   # gr.File's options

Imports Gradio: import it where the page is made, not at the top of a module the CLI loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from core.errors import UploadError
from ui.sent import sent_file


def upload_box(**options: Any) -> gr.File:
    """``gr.File(**options)`` that takes only files sent to Gradio's upload route (see
    :func:`ui.sent.sent_file`): its file step refuses any other path or a URL with a message.

    The step is replaced on this one box rather than in a subclass: Gradio writes a ``.pyi`` file
    beside the module of every component class it sees defined.
    """
    box = gr.File(**options)
    take = box.async_move_resource_to_block_cache

    async def take_sent_file(url_or_file_path: str | Path | None) -> str | None:
        if url_or_file_path is None:
            return None
        try:
            path = sent_file(url_or_file_path)
        except UploadError as error:
            raise gr.Error(str(error), print_exception=False) from None
        return await take(path)

    box.async_move_resource_to_block_cache = take_sent_file  # type: ignore[method-assign]
    return box
