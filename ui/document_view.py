"""The document view: ``GET /doc/{source}?start=..&end=..`` shows an indexed document as the served
generation holds it, HTML-escaped, with the cited span highlighted and scrolled to; 404 for
anything but an indexed document's name."""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from core.display import visible
from core.errors import QAError, UnknownSourceError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from qa.keeper import SourceDocument
    from qa.pipeline import Pipeline

from ui.render import DOC_ROUTE, byline, escape_html, link, safe_url
from ui.status import IndexStatus

log = logging.getLogger("app")


# --- the document view


def resolve_source(name: str, known: Collection[str], seeds_dir: Path) -> str | None:
    """``name`` if it plainly names an indexed document inside ``seeds_dir``, else ``None``.

    >>> resolve_source("a.txt", {"a.txt"}, Path("seeds"))
    'a.txt'
    >>> [resolve_source(n, {"a.txt"}, Path("seeds")) for n in ("../a.txt", "/etc/passwd", "b.txt")]
    [None, None, None]
    """
    parts = name.split("/")
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or PurePosixPath(name).is_absolute()
        or any(part in ("", ".", "..") for part in parts)
        or name not in known
    ):
        return None
    root = seeds_dir.resolve()
    if not (root / name).resolve().is_relative_to(root):  # a symlink out of the seeds folder
        return None
    return name


def highlight(text: str, start: int | None, end: int | None) -> str:
    """``text`` escaped, with ``text[start:end]`` wrapped in ``<mark id="cited">``.

    >>> highlight("a <b> c", 2, 5)
    'a <mark id="cited">&lt;b&gt;</mark> c'
    """
    if start is None or end is None or not 0 <= start < end <= len(text):
        return escape_html(text)
    return (
        f'{escape_html(text[:start])}<mark id="cited">{escape_html(text[start:end])}</mark>'
        f"{escape_html(text[end:])}"
    )


DOC_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 16px/1.55 system-ui, sans-serif; max-width: 50rem; margin: 2rem auto; padding: 0 1rem; }}
header {{ border-bottom: 1px solid #ddd; margin-bottom: 1rem; }}
h1 {{ font-size: 1.35rem; margin: 0 0 .3rem; }}
.by {{ color: #555; margin: 0 0 .6rem; }}
.text {{ white-space: pre-wrap; overflow-wrap: anywhere; }}
mark {{ background: #ffe066; padding: .1em 0; scroll-margin: 40vh; }}
.note {{ color: #8a4b00; }}
</style></head>
<body><header><h1>{title}</h1><p class="by">{byline}</p><p>{links}</p>{note}</header>
<div class="text" id="text">{body}</div></body></html>
"""


def render_document(document: SourceDocument, start: int | None, end: int | None) -> str:
    """The document view's page; the cited span is marked and the URL's ``#cited`` scrolls to it."""
    meta = document.metadata
    name = visible(document.source, one_line=True)  # "new\\nline.txt": its controls as escapes
    title = meta.title or name
    links = [f"<code>{escape_html(name)}</code>"]
    if url := safe_url(meta.url):
        links.append(link(url, "original article ↗", "qa-url"))
    in_range = start is not None and end is not None and 0 <= start < end <= len(document.text)
    note = ""
    if (start is not None or end is not None) and not in_range:
        note = '<p class="note">The requested span is not in this document; showing it whole.</p>'
    return DOC_PAGE.format(
        title=escape_html(title),
        byline=escape_html(byline(meta)),
        links=" · ".join(links),
        note=note,
        body=highlight(document.text, start, end),
    )


def error_page(title: str, message: str) -> str:
    """A small page saying what went wrong, e.g. ``Not found``."""
    title, message = escape_html(title), escape_html(message)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1><p>{message}</p></body></html>"
    )


# Scripts never run on the document view: its text is escaped, and the policy forbids them anyway.
DOC_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}


def add_document_route(app: FastAPI, pipeline: Pipeline, status: IndexStatus) -> None:
    """Serve ``GET /doc/{source}?start=..&end=..``: 404 for anything but an indexed document.
    ``source`` is the document's name as :func:`ui.render.doc_href` quotes it, any character
    (a line break, a tab, U+202E) read back as it is."""
    from fastapi.responses import HTMLResponse
    from starlette.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor

    class NameConvertor(Convertor[str]):
        """A route's ``{source:seedname}``: any text, line breaks too (Starlette's ``path`` is
        ``.*``, which stops at a line break, so ``doc/new%0Aline.txt`` was a 404)."""

        regex = r"[\s\S]*"

        def convert(self, value: str) -> str:
            return value

        def to_string(self, value: str) -> str:
            return value

    if "seedname" not in CONVERTOR_TYPES:  # (Starlette's registry is global: once per process)
        register_url_convertor("seedname", NameConvertor())

    @app.get(f"/{DOC_ROUTE}/{{source:seedname}}", response_class=HTMLResponse, include_in_schema=False)
    def document_view(source: str, start: int | None = None, end: int | None = None) -> HTMLResponse:
        if not status.ready:
            message = status.describe() if not status.failed else status.message
            return HTMLResponse(error_page("Index not ready", message), status_code=503, headers=DOC_HEADERS)
        try:
            name = resolve_source(source, set(pipeline.index.sources()), pipeline.settings.seeds_dir)
            if name is None:
                raise UnknownSourceError(f"No document named {source!r} in the index")
            document = pipeline.index.document(name)
        except UnknownSourceError as error:
            return HTMLResponse(error_page("Not found", str(error)), status_code=404, headers=DOC_HEADERS)
        except QAError as error:  # a damaged index that could not be healed, say: words, not a 500
            log.error("The document view of %r failed: %s", source, error)
            message = f"The index cannot be read now ({visible(str(error))}); try again shortly."
            return HTMLResponse(
                error_page("Index unavailable", message), status_code=503, headers=DOC_HEADERS
            )
        return HTMLResponse(render_document(document, start, end), headers=DOC_HEADERS)
