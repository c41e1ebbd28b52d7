"""Where the index stands, for the page: built or opened in the background on first start, its
progress and every later build's (the seeds watcher's too) shown in the status line."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.display import visible
from core.errors import DiskFullError, IndexReadOnlyError, IndexWriteError, QAError

if TYPE_CHECKING:
    from index.build import BuildReport
    from qa.pipeline import Pipeline


log = logging.getLogger("app")


# --- the index: built in the background on first start, its progress shown on the page


@dataclass
class IndexStatus:
    """Where the index stands, for the page and for questions: ``starting``; ``building`` (with
    progress, nothing to answer from yet); ``ready`` (questions are answered, ``updating`` while a
    build goes on: a large seed still being embedded, a seed edited); or ``failed`` (with a message).

    It listens to the pipeline's builds (:meth:`qa.pipeline.Pipeline.listen`): the first one, the
    seeds watcher's. A build with much to embed publishes the small seeds first, and questions are
    answered from them as soon as it has."""

    state: str = "starting"
    done: int = 0
    total: int = 0
    source: str = ""
    message: str = ""
    documents: int = 0  # documents in the generation answering
    pending: list[str] = field(default_factory=list)  # seeds it does not hold yet, being embedded
    updating: bool = False  # a build runs while questions are answered
    watching: bool = False  # the seeds folder is followed: a build may start at any time
    trouble: str = ""  # why the last update failed (the generation published before answers)
    read: str = ""  # "big.txt (12 MB)": the seed being read and cleaned, before its texts are embedded
    disk_full: bool = False  # it failed for a full disk: new seeds wait for space to be freed
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def ready(self) -> bool:
        """Whether questions can be answered (a generation is published and open)."""
        return self.state == "ready"

    @property
    def failed(self) -> bool:
        return self.state == "failed"

    def reading(self, source: str, size: int) -> None:
        """A build reads and cleans ``source`` (``size`` bytes): seconds or minutes for a large one,
        before any of its texts is embedded."""
        from index.load import size_words

        self.read = f"{source} ({size_words(size)})"
        self._building()

    def progress(self, done: int, total: int, source: str) -> None:
        """A build's progress: ``(texts embedded, texts to embed, document)``."""
        if source != self.source:
            log.info(
                "Building the index: %d of %d texts embedded (%s)",
                done,
                total,
                visible(source, one_line=True),
            )
        self.done, self.total, self.source, self.read = done, total, source, ""
        self._building()

    def _building(self) -> None:
        if self.ready:
            self.updating = True
        elif not self.failed:
            self.state = "building"

    def published(self, report: BuildReport) -> None:
        """A build published a generation: questions are answered from it, also while
        ``report.pending`` names seeds still being embedded."""
        self.documents, self.pending, self.trouble, self.read = report.documents, list(report.pending), "", ""
        self.disk_full = False
        self.updating = bool(report.pending)
        if report.pending:  # embedded next (smallest first), before its first batch is reported
            self.source = report.pending[0]
        self.message = f"Ready: {report.documents} articles indexed."
        self.state = "ready"
        self._finished.set()

    def stopped(self, error: Exception | None) -> None:
        """A build ended; ``error`` when it failed (the generation published before still answers)."""
        self.updating, self.pending, self.read = False, [], ""
        self.trouble = "" if error is None else str(error)
        self.disk_full = isinstance(error, DiskFullError)

    def finish(self, message: str) -> None:
        self.state, self.message = "ready", message
        self._finished.set()

    def fail(self, message: str) -> None:
        self.state, self.message = "failed", message
        self._finished.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until questions can be answered or the index has failed; ``True`` when they can."""
        self._finished.wait(timeout)
        return self.ready

    def waiting_for_space(self) -> str:
        """What a full disk means for the documents not indexed yet, in a sentence."""
        then = "once space is freed" if self.watching else "once space is freed and the app restarted"
        return (
            "The disk is full, so new and changed documents cannot be indexed; answers come from "
            f"the documents indexed before, and the rest are indexed {then}."
        )

    def describe(self) -> str:
        """One line for the page, e.g. ``Indexing big.txt: 1,234 of 40,000 passages embedded;
        answers come from the 5 documents indexed so far.``; a document's name in it is shown with
        its line breaks and direction controls as escapes (``new\\nline.txt``)."""
        return visible(self._describe(), one_line=True)

    def _describe(self) -> str:
        if self.failed:
            return self.message
        if self.ready:
            if self.updating and self.read:
                return (
                    f"Indexing: reading {self.read}…; "
                    f"answers come from the {self.documents:,} documents indexed so far."
                )
            if self.updating and self.total:
                others = [p for p in self.pending if p != self.source]
                then = f", then {', '.join(others)}" if others else ""
                return (
                    f"Indexing {self.source}: {self.done:,} of {self.total:,} passages embedded{then}; "
                    f"answers come from the {self.documents:,} documents indexed so far."
                )
            if self.disk_full:
                return f"{self.message} {self.waiting_for_space()}"
            return self.message + (f" Updating the index failed: {self.trouble}" if self.trouble else "")
        if self.state == "building" and self.read:
            return (
                f"Building the index: reading {self.read}… "
                "Questions will be answered as soon as the first documents are indexed."
            )
        if self.state == "building" and self.total:
            return (
                f"Building the index: {self.done:,} of {self.total:,} passages embedded "
                f"({self.source})… Questions will be answered as soon as the first documents are indexed."
            )
        return "Opening the index (it is built from the seeds folder on first start)…"


def prepare_index(pipeline: Pipeline, status: IndexStatus) -> None:
    """Build the index if there is none or the seeds changed (unless ``QA_AUTO_BUILD`` is off),
    open it, and record the outcome in ``status``, which follows every later build of the pipeline
    too. Questions are answered as soon as the build has published a first generation."""
    pipeline.index.listen(status)
    settings = pipeline.settings
    status.watching = settings.auto_build and settings.watch_seeds > 0
    try:
        stopped: QAError | None = None  # why the first build could not write: what is there answers
        if settings.auto_build:
            try:
                report = pipeline.index.ensure_index()
            except IndexReadOnlyError as error:  # a read-only data folder: what is there answers
                log.warning("%s; serving the index as it is", error)
            except IndexWriteError as error:  # a full disk: what was published before answers
                log.warning("The index build stopped: %s", error)
                stopped = error
            except QAError as error:
                if not status.ready:  # nothing was published to answer from
                    raise
                log.error("The index build stopped: %s", error)  # what it published answers
            else:
                if report is not None:
                    log.info("Index built: %s", report.summary())
        try:
            pipeline.load()
        except QAError:
            if stopped is not None:  # nothing to answer from: the build's failure says why
                raise stopped from None
            raise
        sources = pipeline.index.sources()
        status.documents = len(sources)
        status.finish(f"Ready: {len(sources)} articles indexed.")
        pipeline.index.watch_seeds()  # an edited, added or removed seed is indexed; the next question uses it
    except QAError as error:
        log.error("%s", error)
        status.fail(str(error))
    except Exception as error:  # the page must show a message, not hang on "building"
        log.exception("Opening the index failed")
        status.fail(f"Opening the index failed ({type(error).__name__}: {error}); see the server log.")


def start_index(pipeline: Pipeline, status: IndexStatus) -> threading.Thread:
    """Run :func:`prepare_index` in a daemon thread, so the page is up while the index builds."""
    thread = threading.Thread(target=prepare_index, args=(pipeline, status), name="index", daemon=True)
    thread.start()
    return thread
