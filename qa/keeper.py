"""The index a pipeline answers from, kept in line with the seeds folder, and the documents it holds.

:class:`IndexKeeper` opens the published generation (building it first when there is none and
``Settings.auto_build`` is on), reopens it when a build publishes another, heals a generation
found damaged (a build sets it aside and rebuilds from the seeds), follows the seeds folder from
a background thread (:meth:`IndexKeeper.watch_seeds`) and tries again, with a growing wait, a
build that could not write. It is also the :class:`~qa.answer.Library` of the generation served
now: every read heals a generation it finds damaged, as a question does.

It does not answer questions: :class:`qa.pipeline.Pipeline` does, from the generation it serves.

    keeper = IndexKeeper(Settings())
    keeper.served().sources()   # the documents of the generation served now
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from core.errors import (
    DiskFullError,
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    IndexReadOnlyError,
    IndexWriteError,
    QAError,
    UnknownSourceError,
)
from core.settings import Settings
from qa.answer import Described
from qa.served import CachedEmbeddings, ServedIndex, VectorCache

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from index.build import BuildReport, PendingSeed, Progress
    from index.generations import Layout
    from index.metadata import DocumentMetadata
    from qa.retrieve import Retriever

log = logging.getLogger(__name__)
T = TypeVar("T")


class BuildListener(Protocol):
    """What a keeper tells about every build it runs (:meth:`IndexKeeper.listen`): the app shows it."""

    def reading(self, source: str, size: int) -> None:
        """``source`` (``size`` bytes) is being read and cleaned, before any of it is embedded."""

    def progress(self, done: int, total: int, source: str) -> None:
        """``done`` of ``total`` texts embedded; ``source`` is being embedded."""

    def published(self, report: BuildReport) -> None:
        """A generation was published: a partial one while ``report.pending`` names seeds still to come."""

    def stopped(self, error: Exception | None) -> None:
        """The build ended; ``error`` when it failed (the generation published last is served)."""


@dataclass(frozen=True)
class SourceDocument:
    """A seed document as indexed: its exact text and metadata."""

    source: str
    text: str
    metadata: DocumentMetadata


class IndexKeeper:
    """The published generation, opened, healed and kept in line with the seeds. See the module docstring."""

    def __init__(self, settings: Settings, embeddings: Embeddings | None = None) -> None:
        """``embeddings`` stands in for the settings' model, which is loaded on first use."""
        self.settings = settings
        self._embeddings = embeddings
        self._lock = threading.RLock()
        # One embedder for everything (answerers, judge, Chroma's query): one cache in front of the model.
        self.embedder = CachedEmbeddings(lambda: self.embeddings, VectorCache(settings.vector_cache_size))
        self._served: ServedIndex | None = None
        self._retired: ServedIndex | None = None  # the generation served before: a question may still read it
        self.stale_sources: list[str] = []  # seeds changed, added or removed since the served generation
        self._synced = False  # whether ensure_index has run: load() need not run it again
        self._seeds_signature: tuple[tuple[object, ...], ...] | None = None
        self._retry_at: float | None = None  # when the watcher may try again a build that could not write
        self._failures = 0  # such builds failed in a row (each waits twice as long)
        self._free_at_failure: int | None = None  # free bytes on a disk found full: tried again when more
        self._watcher: threading.Thread | None = None
        self._listener: BuildListener | None = None
        self._stop = threading.Event()

    @cached_property
    def embeddings(self) -> Embeddings:
        """The embeddings given to the constructor, or the settings' model, loaded on first use."""
        if self._embeddings is not None:
            return self._embeddings
        from index.embed import embedder

        return embedder(self.settings)

    @cached_property
    def _layout(self) -> Layout:
        from index.generations import Layout

        return Layout(self.settings)

    def listen(self, listener: BuildListener | None) -> None:
        """Tell ``listener`` about every build this keeper runs from now on: the first, the seeds
        watcher's, a heal (the app's status line)."""
        self._listener = listener

    def ensure_index(self, progress: Progress | None = None, wait: bool = True) -> BuildReport | None:
        """Bring the index in line with the seeds folder (build a new generation when anything
        changed, and publish it); the report when anything changed, ``None`` when it was up to date.
        The generation being served keeps answering meanwhile; the next question uses the new one
        (or a partial one the build publishes on the way, see :meth:`pending`)."""
        from index.build import build_index

        listener = self._listener
        published: list[str] = []

        def told(done: int, total: int, source: str) -> None:
            if progress is not None:
                progress(done, total, source)
            if listener is not None:
                listener.progress(done, total, source)

        def read(source: str, size: int) -> None:
            if listener is not None:
                listener.reading(source, size)

        def publish(report: BuildReport) -> None:
            published.append(report.generation)
            if listener is not None:
                listener.published(report)

        try:
            report = build_index(
                self.settings,
                embeddings=self.embeddings,
                progress=told,
                wait=wait,
                rebuild_mismatch=self.settings.auto_build,  # an index of other settings is rebuilt, not refused
                published=publish,
                reading=read,
            )
        except IndexBusyError:
            raise  # another build runs: this one never started
        except Exception as error:
            if listener is not None:
                listener.stopped(error)
            # What it published answers, or a folder it cannot write (read-only, a full disk) is
            # served as it is: opening the index need not try to build again.
            full = isinstance(error, IndexWriteError) and self._layout.current_name() is not None
            if published or full or isinstance(error, IndexReadOnlyError):
                self._synced = True
            raise
        if listener is not None:
            listener.stopped(None)
        self._synced = True
        for unreadable in report.errors:
            log.warning("%s", unreadable)
        self.stale_sources = sorted(report.left_out)  # left out of answers until they can be read
        return report if report.changed or report.healed else None

    def load(self) -> None:
        """Open the published index generation (building it first when there is none and
        ``Settings.auto_build`` is on) and warm it up: the embedding model runs once and the vector
        and lexical indexes are read once, so that the first question costs what later ones do.
        A later call opens a newer generation once one is published."""

        def warm(served: ServedIndex) -> None:
            served.retriever.retrieve("warm up the index", top_k=1)
            served.described()  # what a metadata question compares with: every document's description

        self.healing(warm)

    def served(self) -> ServedIndex:
        """The published generation, opened; reopened when a build has published another since."""
        served = self._served
        name = self._layout.current_name()
        if served is not None and served.name == name:
            return served
        with self._lock:
            if self._served is not None and self._served.name == self._layout.current_name():
                return self._served
            if self.settings.auto_build and not self._synced:
                self._build_quietly()
            try:
                opened = self._open()
            except (IndexMissingError, IndexCorruptError, IndexMismatchError) as error:
                if not self.settings.auto_build:
                    raise
                log.warning("%s; building the index from the seeds", error)
                self.ensure_index()
                opened = self._open()
            if self.settings.auto_build:  # the build has compared the seeds with it
                self.stale_sources = sorted(opened.left_out)
            else:
                self._look_at_seeds(opened)
            if self._retired is not None:
                self._retired.close()
            self._retired, self._served = self._served, opened
            return opened

    def heal(self, served: ServedIndex, error: IndexCorruptError) -> ServedIndex:
        """A generation found damaged while answering: with ``auto_build``, a build sets it aside
        and rebuilds from the seeds; the new generation, or the error when nothing changed. Many
        questions finding it at once heal it once: the others wait for that build, then find the
        generation it published."""
        if not self.settings.auto_build:
            raise error
        log.warning("%s; checking the index and rebuilding it if damaged", error)
        if self._layout.current_name() == served.name:  # not healed by another question meanwhile
            self.ensure_index()
        healed = self.served()
        if healed.name == served.name:
            raise error
        return healed

    def healing(self, read: Callable[[ServedIndex], T]) -> T:
        """``read`` of the served generation; when it finds that generation damaged, read again
        from the one that heals it (:meth:`heal`)."""
        served = self.served()
        try:
            return read(served)
        except IndexCorruptError as error:
            return read(self.heal(served, error))

    def _build_quietly(self) -> None:
        """The first build of an auto-building keeper. While another build runs (the app's first
        one in another thread, or another process's), the generation it published last is served,
        or its first one waited for; a folder it cannot write is served as it is."""
        try:
            self.ensure_index(wait=False)
        except IndexBusyError:
            while self._layout.current_name() is None and self._layout.build_running():
                time.sleep(0.2)
        except IndexReadOnlyError as error:
            log.warning("%s; serving the index as it is", error)
            self._synced = True
        except IndexWriteError as error:  # a full disk, say: a published generation answers as it is
            if self._layout.current_name() is None:
                raise
            log.warning("%s; answering from the index as it is", error)

    def pending(self) -> list[PendingSeed]:
        """The seeds the served generation does not hold yet (a partial generation, published before
        a large seed), each with how far the running build is: ``PendingSeed.describe()`` says
        e.g. ``big.txt: being indexed, 1,200 of 40,000 texts embedded``."""
        from index.build import pending_seeds

        return self.healing(lambda served: pending_seeds(self._layout, served.catalog))

    def _open(self) -> ServedIndex:
        from index.build import embedding_record
        from index.catalog import Catalog
        from index.manifest import read_manifest
        from index.store import chunking_record, vector_store

        generation = self._layout.current()
        catalog = Catalog(generation.catalog_path)
        try:
            manifest = read_manifest(catalog)
            manifest.check(embedding_record(self.settings), chunking_record(self.settings))
            if not catalog.chunk_count():
                raise IndexMissingError(
                    f"The index in {self.settings.resolved_index_dir} is empty: add documents to the "
                    "seeds folder and run `python -m index build`"
                )
            # The cached embedder has the two methods Chroma calls (embed_documents, embed_query).
            store = vector_store(self.settings, cast("Embeddings", self.embedder), generation)
        except BaseException:
            catalog.close()
            raise
        return ServedIndex(self.settings, generation, catalog, store, self.embedder)

    @property
    def retriever(self) -> Retriever:
        return self.served().retriever

    def check_seeds(self) -> BuildReport | None:
        """Look at the seeds folder; when it changed since the last look, rebuild (with
        ``auto_build``) or list the changed seeds in ``stale_sources``. Cheap when nothing changed:
        one directory walk of the files' sizes, times and inodes (:func:`index.load.file_key`)."""
        from index.load import file_key, seed_files

        try:
            paths, _ = seed_files(self.settings.seeds_dir)
        except QAError:
            return None
        signature = tuple(sorted((str(p), *file_key(p)) for p in paths))
        if signature == self._seeds_signature and not self._retry_due():
            return None
        self._seeds_signature = signature
        if self.settings.auto_build:
            try:
                report = self.ensure_index(wait=False)
            except IndexBusyError:
                self._seeds_signature = None  # another build runs: look again next time
                return None
            except IndexWriteError as error:  # a full disk, say: tried again later (2 s ... 64 s apart)
                self._failures += 1
                self._retry_at = time.monotonic() + min(64.0, 2.0**self._failures)
                self._free_at_failure = self._disk_free() if isinstance(error, DiskFullError) else None
                raise
            self._failures, self._retry_at, self._free_at_failure = 0, None, None
            return report
        self.healing(lambda served: self._look_at_seeds(served, paths))
        return None

    def retrying(self) -> bool:
        """Whether a build that could not write (a full disk, say) is to be tried again."""
        return self._retry_at is not None

    def _retry_due(self) -> bool:
        """Whether to try again a build that could not write: once its wait is over, and for a full
        disk, once more space is free than when it failed (a build is not redone to fail again)."""
        if self._retry_at is None or time.monotonic() < self._retry_at:
            return False
        if self._free_at_failure is None:
            return True
        free = self._disk_free()
        return free is None or free > self._free_at_failure

    def _disk_free(self) -> int | None:
        """Free bytes on the disk holding the index folder (``None`` when it cannot be told)."""
        try:
            return shutil.disk_usage(self._layout.root).free
        except OSError:
            return None

    def _look_at_seeds(self, served: ServedIndex, paths: list[Any] | None = None) -> None:
        """With no build following the seeds: list the seeds changed, added or removed since
        ``served`` in ``stale_sources``, and leave out of answers those changed that cannot be read."""
        from index.load import left_out, seed_files

        if paths is None:
            try:
                paths, _ = seed_files(self.settings.seeds_dir)
            except QAError:
                return
        indexed = served.catalog.hashes()
        found = {}
        for path in paths:
            source = path.relative_to(self.settings.seeds_dir).as_posix()
            try:
                found[source] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                found[source] = ""
        changed = {s for s in indexed if s in found and found[s] != indexed[s]}
        served.leave_out(left_out(self.settings.seeds_dir, {s: indexed[s] for s in changed}))
        self.stale_sources = sorted(s for s in set(indexed) | set(found) if indexed.get(s) != found.get(s))

    def watch_seeds(self, interval: float | None = None) -> None:
        """Follow the seeds folder from a background thread, every ``interval`` seconds
        (``Settings.watch_seeds``): an edited, added or removed seed is indexed and the next
        question answers from it, without a restart. :meth:`close` stops it."""
        interval = self.settings.watch_seeds if interval is None else interval
        if interval <= 0 or self._watcher is not None:
            return

        def run() -> None:
            said = ""  # the failure logged last: one that repeats at every retry is logged once
            waited = False  # whether it was a build that could not write, tried again
            while not self._stop.wait(interval):
                try:
                    self.check_seeds()
                except QAError as error:
                    if str(error) != said:
                        later = (
                            "; trying again once space is freed"
                            if isinstance(error, DiskFullError)
                            else "; trying again later"
                            if self.retrying()
                            else ""
                        )
                        log.warning("Following the seeds folder: %s%s", error, later)
                    said, waited = str(error), self.retrying()
                    continue
                except Exception:  # a watcher that dies silently would be worse
                    log.exception("Following the seeds folder failed")
                    continue
                if said and not self.retrying():  # the build that could not write has now
                    if waited:
                        log.info("Following the seeds folder: the index is up to date again")
                    said, waited = "", False

        self._watcher = threading.Thread(target=run, name="seeds-watcher", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        """Stop following the seeds and close the index files."""
        self._stop.set()
        with self._lock:
            for served in (self._served, self._retired):
                if served is not None:
                    served.close()
            self._served = self._retired = None

    # The Library of the generation served now: each read heals a generation it finds damaged.

    def text(self, source: str) -> str:
        return self.healing(lambda served: served.text(source))

    def metadata(self, source: str) -> DocumentMetadata:
        return self.healing(lambda served: served.metadata(source))

    def sources(self) -> list[str]:
        """The names of the indexed documents that answers may cite."""
        return self.healing(lambda served: served.sources())

    def document(self, source: str) -> SourceDocument:
        """One indexed document as the served generation holds it (the text citations point into)."""
        return self.healing(
            lambda served: SourceDocument(source, served.text(source), served.metadata(source))
        )

    def embed(self, texts: list[str]) -> Sequence[Sequence[float]]:
        """Normalised embeddings: cached, stored with the index, or computed now."""
        if self._served is not None:
            return self._served.embed(texts)
        return self.embedder.embed_documents(texts)

    def idf(self, term: str) -> float:
        return self.healing(lambda served: served.idf(term))

    def mentions(self, word: str) -> bool:
        return self.healing(lambda served: served.mentions(word))

    def described(self) -> Described:
        return self.healing(lambda served: served.described())

    def check_sources(self, sources: list[str] | None, served: ServedIndex | None = None) -> None:
        """Raise an :class:`~core.errors.UnknownSourceError` for a name in ``sources`` that ``served``
        (by default the generation served now) does not hold, or leaves out of answers."""
        served = served or self.served()
        known = served.sources()
        unknown = sorted(set(sources or []) - set(known))
        if left := [s for s in unknown if s in served.left_out]:
            raise UnknownSourceError(
                f"{left[0]} is left out of answers: its file changed since it was indexed and cannot be "
                f"read ({served.left_out[left[0]]})"
            )
        if unknown:
            raise UnknownSourceError(f"No documents named {unknown} in the index; known: {known}")
