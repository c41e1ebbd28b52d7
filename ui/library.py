"""The document library panel: which documents are indexed (title, publisher, date, chunks and
status), uploads that become seeds, and removal of uploaded documents.

Statuses, from the served generation's catalog and the seeds folder:
``indexed`` (with a word when it is keyword-stuffed or speaks to the software reading it: both rank
last); ``being indexed`` (a seed the served generation does not hold yet, while a build
runs or the watcher is about to start one); ``changed since indexing`` (its file differs from
what is indexed); ``failed: why`` (the seed cannot be read, as :func:`index.load.read_seed` says;
an indexed one is left out of answers meanwhile);
``not indexed yet`` (no build follows the folder: ``python -m index build``); ``waiting for disk
space`` (the last build found the disk full: indexed once space is freed).

Uploads are converted and stored by :mod:`index.convert` under ``SEEDS/uploads/`` and indexed
incrementally by :meth:`qa.pipeline.Pipeline.check_seeds`, in the background, its progress in the
page's status line. Only uploaded documents can be removed from the page; the others are the
operator's seeds, changed on disk.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from core.display import visible
from core.errors import QAError, SeedError, UploadError
from index.convert import UPLOAD_SUFFIXES, is_upload, remove_upload, save_upload
from ui.render import escape_html
from ui.sent import sent_file
from ui.settings import AppSettings

if TYPE_CHECKING:
    import gradio as gr

    from index.metadata import DocumentMetadata
    from qa.pipeline import Pipeline
    from ui.status import IndexStatus

log = logging.getLogger("app")

KINDS = ("indexed", "being indexed", "waiting", "changed since indexing", "failed", "not indexed", "removed")
INDEXED, BEING_INDEXED, CHANGED, NOT_YET = (
    "indexed",
    "being indexed",
    "changed since indexing",
    "not indexed yet",
)
UPLOAD_LIMIT: int = AppSettings.model_fields["max_upload_bytes"].default  # the largest file, by default
WAITING_FOR_SPACE = "waiting for disk space: the disk is full"


@dataclass(frozen=True)
class Row:
    """One document of the library table."""

    source: str
    title: str = ""
    publisher: str = ""
    date: str = ""
    chunks: int | None = None
    status: str = INDEXED


@dataclass
class Library:
    """The library's handlers over one pipeline and the page's index status."""

    pipeline: Pipeline
    status: IndexStatus
    max_upload_bytes: int = (
        UPLOAD_LIMIT  # the largest file taken (AppSettings.max_upload_bytes); 0: no uploads
    )
    _hashes: dict[str, tuple[tuple[int, ...], str]] = field(default_factory=dict, repr=False)
    _failures: dict[str, tuple[tuple[int, ...], str | None]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _indexing: int = field(default=0, repr=False)  # background builds started by an upload or removal
    # Where the files the upload box hands over must lie (Gradio's upload folder when None).
    upload_folder: Path | None = None

    @property
    def seeds_dir(self) -> Path:
        return self.pipeline.settings.seeds_dir

    def _on_disk(self) -> dict[str, Path]:
        from index.load import seed_files

        try:
            paths, _ = seed_files(self.seeds_dir)
        except QAError:
            return {}
        return {p.relative_to(self.seeds_dir).as_posix(): p for p in paths}

    def _failure(self, path: Path) -> str | None:
        """Why the seed cannot be read (:func:`index.load.read_seed`'s error), ``None`` when it can;
        read again only when the file changed (:func:`index.load.file_key`), and never cleaned
        (:func:`index.load.check_seed`): listing a large seed costs reading it, not indexing it."""
        from index.load import check_seed, file_key

        try:
            path.stat()
        except OSError as error:
            return f"{path.name}: cannot be read ({error.strerror or error})"
        key = file_key(path)
        with self._lock:
            cached = self._failures.get(str(path))
        if cached and cached[0] == key:
            return cached[1]
        try:
            check_seed(path, self.seeds_dir)
            failure = None
        except SeedError as error:
            failure = str(error)
        with self._lock:
            self._failures[str(path)] = (key, failure)
        return failure

    def _sha256(self, path: Path) -> str:
        """The file's hash, recomputed only when the file changed (:func:`index.load.file_key`)."""
        from index.load import file_key

        try:
            key = file_key(path)
            with self._lock:
                cached = self._hashes.get(str(path))
            if key and cached and cached[0] == key:
                return cached[1]
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return ""
        with self._lock:
            self._hashes[str(path)] = (key, digest)
        return digest

    def rows(self) -> list[Row]:
        """Every document indexed or in the seeds folder, by name, with its status."""
        on_disk = self._on_disk()
        indexed: dict[str, Row] = {}
        hashes: dict[str, str] = {}
        pending: dict[str, str] = {}
        notes: dict[str, str] = {}  # what a reader should know about an indexed document
        if self.status.ready:
            try:
                served = self.pipeline.index.served()
                for source, sha, _, chunks, meta in served.catalog.records():
                    hashes[source] = sha
                    title = (meta.title or "").lstrip("# ")  # a Markdown heading's marks, not its words
                    indexed[source] = Row(source, title, meta.publisher or "", meta.date or "", chunks)
                    if note := self._note(meta):
                        notes[source] = note
                pending = {seed.source: seed.describe() for seed in self.pipeline.index.pending()}
            except QAError as error:
                log.warning("The library cannot read the index: %s", error)
        building = self.status.updating or self.status.state == "building"
        following = self.pipeline.settings.auto_build and self.status.watching
        waiting = BEING_INDEXED if building or following or self._indexing else NOT_YET
        again = " (being re-indexed)" if building or following else ""
        if self.status.disk_full and not building:  # nothing is indexed until space is freed
            waiting, again = WAITING_FOR_SPACE, f" ({WAITING_FOR_SPACE})"
        known = set(hashes.values())
        rows = []
        for source in sorted(set(on_disk) | set(indexed)):
            row = indexed.get(source, Row(source))
            path = on_disk.get(source)
            if path is None:  # deleted: the next build drops it
                status = "removed; leaving the index" if following else "removed from the seeds folder"
            elif source in pending:  # "big.txt: being indexed, 1,200 of 40,000 texts embedded"
                status = pending[source].removeprefix(f"{source}: ")
            elif hashes.get(source) == self._sha256(path):
                status = INDEXED + (f"; {notes[source]}" if source in notes else "")
            elif failure := self._failure(path):
                status = f"failed: {failure}"
                if source in hashes:  # what was indexed is no longer the file's text
                    status += "; left out of answers until it can be indexed again"
            else:
                if source not in hashes and self._sha256(path) in known:
                    status = "same text as another document (indexed once)"
                elif source in hashes:
                    status = CHANGED + again
                else:
                    status = waiting
                if building and self.status.source == source and self.status.total:
                    status += f" ({self.status.done:,} of {self.status.total:,} texts embedded)"
            rows.append(Row(row.source, row.title, row.publisher, row.date, row.chunks, status))
        return rows

    def _note(self, meta: DocumentMetadata) -> str | None:
        """A keyword-stuffed document, or one that speaks to the software reading it, in a few words."""
        settings = self.pipeline.settings
        if note := meta.addressing_note(settings.max_addressed_share, short=True):
            return note
        if meta.keyword_share > settings.max_keyword_share:
            return "keyword-stuffed (a few words repeated over and over): ranked last"
        return None

    def table(self) -> str:
        """The library as an HTML table (every value escaped)."""
        rows = self.rows()
        if not rows:
            return '<p class="qa-library-empty">No documents yet: upload one below.</p>'
        head = "".join(
            f"<th>{h}</th>" for h in ("Document", "Title", "Publisher", "Date", "Chunks", "Status")
        )
        body = []
        for row in rows:
            cells = [
                visible(row.source, one_line=True),  # "new\\nline.txt": a name's controls as escapes
                row.title,
                row.publisher,
                row.date,
                "" if row.chunks is None else str(row.chunks),
            ]
            state = next((k for k in KINDS if row.status.startswith(k)), "other").replace(" ", "-")
            body.append(
                # the real name, URL-quoted (ASCII and lossless): a hook for scripts, not shown
                f'<tr data-source="{escape_html(quote(row.source, safe="/"))}">'
                + "".join(f"<td>{escape_html(c)}</td>" for c in cells)
                + f'<td class="qa-lib-status qa-lib-{escape_html(state)}">'
                + f"{escape_html(visible(row.status, one_line=True))}</td></tr>"
            )
        return (
            f'<table class="qa-library"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        )

    def removable(self) -> list[str]:
        """The uploaded documents, which the page may remove."""
        return [source for source in self._on_disk() if is_upload(source)]

    def choices(self) -> list[tuple[str, str]]:
        """The remove control's choices: ``(name as shown, name)`` for each uploaded document."""
        return [(visible(source, one_line=True), source) for source in self.removable()]

    def index_soon(self) -> None:
        """Index what changed in the seeds folder now, in the background (the watcher would within
        ``QA_WATCH_SEEDS`` seconds); its progress reaches the status line through the pipeline."""
        if not self.pipeline.settings.auto_build:
            return

        with self._lock:
            self._indexing += 1  # from now on, not "not indexed yet": a build is on its way

        def run() -> None:
            try:
                self.pipeline.index.check_seeds()
            except QAError as error:
                log.warning("Indexing the library's change: %s", error)
            except Exception:
                log.exception("Indexing the library's change failed")
            finally:
                with self._lock:
                    self._indexing -= 1

        threading.Thread(target=run, name="library-index", daemon=True).start()

    def add(self, name: str, data: bytes) -> str:
        """Store one upload as a seed (see :func:`index.convert.save_upload`); its source name."""
        path = save_upload(self.seeds_dir, name, data, self.max_upload_bytes)
        return path.relative_to(self.seeds_dir).as_posix()

    # --- the page's handlers

    def upload(self, files: list[str] | None) -> tuple[str, str, Any, None]:
        """Handler of the upload box: ``(message, table, remove choices, cleared box)``."""
        saved, failed = [], []
        for file in files or []:
            try:  # the box refuses other paths already (ui/upload_box.py): a second lock on the door
                path = sent_file(file, self.upload_folder)
            except UploadError as error:
                log.warning("Upload refused: %s", error)
                failed.append(str(error))
                continue
            try:
                saved.append(self.add(path.name, path.read_bytes()))
            except QAError as error:
                failed.append(str(error))
            except OSError as error:
                failed.append(f"{path.name}: cannot be read ({error.strerror or error})")
            finally:  # Gradio's copy of the upload: the seed is what is kept, not the original
                path.unlink(missing_ok=True)
        if saved:
            self.index_soon()
        lines = [f"Added {', '.join(saved)}: being indexed."] if saved else []
        lines += [f"Not added: {message}" for message in failed]
        return self._message(lines, bool(failed)), self.table(), self._choices(), None

    def remove(self, source: str | None) -> tuple[str, str, Any]:
        """Handler of the remove button: ``(message, table, remove choices)``."""
        if not source:
            return (
                self._message(["Choose an uploaded document to remove."], True),
                self.table(),
                self._choices(),
            )
        try:
            remove_upload(self.seeds_dir, source)
        except QAError as error:
            return self._message([str(error)], True), self.table(), self._choices()
        self.index_soon()
        return (
            self._message([f"Removed {source}: it leaves the index."], False),
            self.table(),
            self._choices(),
        )

    def refresh(self) -> tuple[str, Any]:
        """Handler of page load: ``(table, remove choices)``."""
        return self.table(), self._choices()

    def _choices(self) -> Any:
        import gradio as gr

        return gr.Dropdown(choices=self.choices(), value=None)

    @staticmethod
    def _message(lines: list[str], trouble: bool) -> str:
        kind = "qa-error" if trouble else "qa-notice"
        return "".join(
            f'<div class="{kind} qa-lib-message">{escape_html(visible(line, one_line=True))}</div>'
            for line in lines
        )


def upload_types() -> list[str]:
    """The ``file_types`` of the upload box."""
    return list(UPLOAD_SUFFIXES)


LIBRARY_CSS = """
.qa-library { border-collapse: collapse; width: 100%; font-size: .88rem; }
.qa-library th, .qa-library td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--border-color-primary); }
.qa-lib-indexed { color: #15803d; }
.qa-lib-failed { color: #b91c1c; }
.qa-lib-being-indexed, .qa-lib-waiting, .qa-lib-changed-since-indexing { color: #b45309; }
"""
REFRESH_SECONDS = 2.0  # the table follows the builds (and files changed on disk) this often


def library_panel(library: Library, page: gr.Blocks) -> None:
    """The "Documents" panel, made inside ``page`` (the caller's ``gr.Blocks``): the table, the upload box
    (when ``QA_MAX_UPLOAD_BYTES`` is above 0) and the remove control, wired to ``library``."""
    import gradio as gr

    uploads = library.max_upload_bytes > 0
    with gr.Accordion("Documents", open=False, elem_id="library") as panel:
        table = gr.HTML("", elem_id="library-table")  # filled on load: nothing read while the page is made
        message = gr.HTML("", elem_id="library-message")
        if uploads:
            megabytes = library.max_upload_bytes / 1_000_000
            from ui.upload_box import upload_box

            box = upload_box(
                label=f"Add documents ({', '.join(UPLOAD_SUFFIXES)}; up to {megabytes:g} MB each)",
                file_count="multiple",
                file_types=upload_types(),
                type="filepath",
                elem_id="library-upload",
            )
        with gr.Row():
            choice = gr.Dropdown(
                choices=library.choices(), value=None, label="Uploaded document", elem_id="library-choice"
            )
            remove = gr.Button("Remove", variant="stop", elem_id="library-remove")
        if uploads:
            box.upload(
                library.upload,
                box,
                [message, table, choice, box],
                api_visibility="private",
                concurrency_limit=1,
            )
        remove.click(
            library.remove, choice, [message, table, choice], api_visibility="private", concurrency_limit=1
        )
        # The table follows the builds while the panel is open; a closed panel costs nothing.
        timer = gr.Timer(REFRESH_SECONDS, active=False)
        timer.tick(library.table, None, table, api_visibility="private")
        panel.expand(
            lambda: (library.table(), gr.Timer(active=True)), None, [table, timer], api_visibility="private"
        )
        panel.collapse(lambda: gr.Timer(active=False), None, timer, api_visibility="private")
        page.load(library.refresh, None, [table, choice], api_visibility="private")
