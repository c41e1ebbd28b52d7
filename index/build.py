"""Build or update the index: load, clean, chunk, embed and store the seeds, as a new generation.

Every build writes a new generation (``index.generations``) starting from a copy of the served
one: documents whose content hash is unchanged are kept as they are, changed ones replaced,
deleted ones removed; then the generation is published with one atomic switch. Readers answer
from the served generation throughout, and a build that dies leaves it untouched (its unfinished
folder is removed by the next build). One build runs at a time; a second one waits for it.

A build embeds the smallest seeds first. When much is left to embed (a large seed next, or a
long first build), it publishes what it has finished and carries on in a new generation copied
from that one, so questions are answered from what is indexed meanwhile; the published catalog
lists the seeds still to come (``meta.pending``, :func:`pending_seeds`) and the running build
records how far it is (``Layout.write_progress``): first which seed it reads and cleans (a large
one takes a while before anything of it is embedded), then what it embeds. A record left by a
build that was killed says what that build was doing (:func:`stopped_build`). See
``Settings.partial_publish_texts``.

A served generation found damaged (its catalog or its Chroma files) is moved aside with a
warning and the index is rebuilt from the seeds, which are the source of truth.

    python -m index build            # add, replace and remove what changed
    python -m index build --rebuild  # start over (after changing the model or the chunk settings)
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.errors import (
    DiskFullError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    IndexWriteError,
    QAError,
)
from core.lexical import terms
from index.catalog import Catalog, text_key
from index.chunk import Chunk, chunk_document
from index.embed import embedder, embedder_info
from index.generations import Layout, remove
from index.load import Reading, SeedDocument, left_out, load_seeds, size_words
from index.manifest import REBUILD_HINT, EmbeddingRecord, Manifest, read_manifest, write_manifest
from index.store import (
    Generation,
    chroma_client,
    chroma_error,
    chunking_record,
    copy_vectors,
    delete_chunks,
    is_chroma_failure,
    is_disk_full,
    release,
    vector_store,
)

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from core.settings import Settings

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]  # (texts embedded so far, texts to embed, document)
BATCH = 32
PROGRESS_EVERY = 0.5  # seconds between two records of the build's progress for `index status`
LARGE_READ = 1_000_000  # bytes: a seed this large is always recorded as it is read (seconds of cleaning)


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    sentences_embedded: int = 0
    total_chunks: int = 0
    generation: str = ""
    healed: str = ""  # why the served generation was set aside and rebuilt, when it was
    outside: list[str] = field(default_factory=list)  # links out of the seeds folder, not read
    duplicates: dict[str, str] = field(default_factory=dict)  # seed -> the seed indexed with its content
    left_out: dict[str, str] = field(default_factory=dict)  # indexed seed changed, now unreadable -> why
    published: list[str] = field(default_factory=list)  # each generation published; the last: ``generation``
    pending: list[str] = field(default_factory=list)  # seeds ``generation`` does not hold yet (a partial one)
    documents: int = 0  # documents in ``generation``

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        """One line, e.g. ``2 added, 1 updated, 0 removed, 2 unchanged; 31 chunks embedded, 70 in all``."""
        line = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged; {self.chunks_embedded} chunks embedded, {self.total_chunks} in all"
        )
        if len(self.published) > 1:
            line += f"; {len(self.published) - 1} partial generation(s) published on the way"
        if self.errors:
            line += f"; {len(self.errors)} seed(s) could not be read"
        return line


Published = Callable[[BuildReport], None]  # told after each publish: report.generation, .pending, .documents


@dataclass(frozen=True)
class PendingSeed:
    """A seed a published generation does not hold yet, or holds the previous version of: the
    build that published it had still to embed it (see the module docstring)."""

    source: str
    texts: int  # texts (chunks and sentences) to embed for it
    replaces: bool  # the generation holds the seed's previous version meanwhile
    embedded: int | None = None  # how many the running build has embedded; None: not being embedded now
    running: bool = False  # a build is running (embedding this seed, or another before it)

    def describe(self) -> str:
        """One line, e.g. ``big.txt: being indexed, 1,200 of 40,000 texts embedded``."""
        old = " (its previous version answers meanwhile)" if self.replaces else ""
        if self.embedded is not None:
            return f"{self.source}: being indexed, {self.embedded:,} of {self.texts:,} texts embedded{old}"
        if self.running:
            return f"{self.source}: waiting to be indexed, {self.texts:,} texts to embed{old}"
        return (
            f"{self.source}: not indexed yet, the build that was indexing it stopped; "
            f"`python -m index build` finishes it{old}"
        )


def pending_seeds(layout: Layout, catalog: Catalog) -> list[PendingSeed]:
    """The seeds the generation of ``catalog`` is waiting for, with the running build's progress."""
    pending = catalog.meta().get("pending") or []
    if not pending:
        return []
    progress = layout.read_progress()
    seeds = []
    for item in pending:
        embedded, texts = None, int(item["texts"])
        if progress is not None and "embedded" in progress and progress.get("source") == item["source"]:
            embedded, texts = int(progress["embedded"]), int(progress["texts"])
        seeds.append(
            PendingSeed(item["source"], texts, bool(item["replaces"]), embedded, progress is not None)
        )
    return seeds


def publish_points(works: list[int], large: int) -> list[int]:
    """Where a build publishes on the way: the positions in ``works`` (texts to embed per document,
    smallest first) before which what is finished is published. Before a document of more than
    ``large`` texts, and once as much again as before has been done, while more than ``large``
    texts remain; never before anything is done, and nowhere when ``large`` is 0.

    >>> publish_points([100, 200, 5000], 2000)  # five small seeds and a big one, in short
    [2]
    >>> publish_points([900, 900, 900, 900, 900, 900], 1000)  # a long build of small ones
    [2, 4]
    """
    points: list[int] = []
    if large <= 0:
        return points
    remaining, since, before = sum(works), 0, 0
    for position, work in enumerate(works):
        if since and remaining > large and (work > large or since >= max(large, before)):
            points.append(position)
            before, since = before + since, 0
        since += work
        remaining -= work
    return points


def embedding_record(settings: Settings) -> EmbeddingRecord:
    info = embedder_info(settings)
    return EmbeddingRecord(id=info.id, dimension=info.dimension)


def check_generation(settings: Settings, generation: Generation) -> str | None:
    """Why a published generation cannot be served (a damaged catalog or Chroma index), or ``None``."""
    catalog = Catalog(generation.catalog_path)
    try:
        if reason := catalog.check():
            return f"catalog {generation.catalog_path}: {reason}"
        expected = catalog.chunk_count()
    except IndexCorruptError as error:
        return str(error)
    finally:
        catalog.close()
    try:
        client = chroma_client(settings, generation)
        count = client.get_collection(generation.collection).count()
    except IndexWriteError:
        raise  # a full disk is not a damaged index: nothing is set aside
    except QAError as error:
        return str(error)
    except BaseException as error:
        if not is_chroma_failure(error):
            raise
        if is_disk_full(error):
            raise _write_error(error, Layout(settings)) from error
        return f"Chroma collection {generation.collection}: {type(error).__name__}: {error}"
    if count != expected:
        return f"Chroma holds {count} chunks, the catalog {expected}"
    return None


def build_index(
    settings: Settings,
    *,
    rebuild: bool = False,
    embeddings: Embeddings | None = None,
    progress: Progress | None = None,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    rebuild_mismatch: bool = False,
    published: Published | None = None,
    reading: Reading | None = None,
) -> BuildReport:
    """Bring the index in line with the seeds folder, publish it, and return what changed.

    ``reading`` is told of every seed before it is read and cleaned, ``progress`` of every batch
    embedded, ``published`` of every generation published (a partial one first when there is much
    to embed, see the module docstring). ``wait=False``
    raises ``IndexBusyError`` when another build is running instead of waiting. An index built
    with another embedding model or other chunk settings is refused (``IndexMismatchError``), or
    rebuilt from the seeds with ``rebuild_mismatch``."""
    embedding = embedding_record(settings)
    layout = Layout(settings)
    with layout.build_lock(wait=wait, on_wait=on_wait):
        # Read under the lock: seeds read before waiting for another build could be older than
        # the ones it publishes, and this build would then publish them over its work.
        loaded = load_seeds(settings.seeds_dir, _Reader(layout, reading))
        report = BuildReport(
            errors=[str(e) for e in loaded.errors],
            skipped=loaded.skipped,
            outside=loaded.outside,
            duplicates=loaded.duplicates,
        )
        served = layout.current_name()  # kept after the publish: a question may be reading it
        base = _base(settings, layout, embedding, rebuild, report, rebuild_mismatch)
        hashes = base.catalog.hashes() if base else {}
        todo: list[SeedDocument] = []
        for document in loaded.documents:
            if hashes.get(document.source) == document.sha256:
                report.unchanged.append(document.source)
            else:
                todo.append(document)
                (report.updated if document.source in hashes else report.added).append(document.source)
        present = {d.source for d in loaded.documents} | set(loaded.unreadable)
        report.removed = sorted(s for s in hashes if s not in present)
        # Kept (their vectors wait for the file to be readable again) but left out of answers.
        why = {s: str(e) for s, e in zip(loaded.unreadable, loaded.errors, strict=True)}
        report.left_out = left_out(settings.seeds_dir, hashes, why)
        if (
            base is not None
            and not report.changed
            and base.catalog.meta().get("duplicates", {}) == report.duplicates
            and base.catalog.meta().get("left_out", {}) == report.left_out
            and not base.catalog.meta().get("pending")  # a partial generation whose build died: finished anew
        ):
            report.total_chunks = base.catalog.chunk_count()
            report.generation = base.generation.name
            report.documents = len(base.catalog.sources())
            base.catalog.close()
            # Only what builds that died left: the generation before is kept, as after a publish.
            _remove_leftovers(settings, layout, keep={base.generation.name}, newer_than=base.generation.name)
            return report
        if base is not None:
            base.catalog.close()
        planned = sorted(_plan(settings, todo), key=lambda p: (p.work, p.document.source))
        points = publish_points([p.work for p in planned], settings.partial_publish_texts)
        stages = [planned[a:b] for a, b in zip([0, *points], [*points, len(planned)], strict=True)]
        tracker = _Tracker(layout, progress, sum(p.work for p in planned))
        run = _Run(settings, report, embedding, embeddings, tracker)
        start = base.generation if base else None
        previous = served  # the generation published last: kept when the next one is published
        for number, stage in enumerate(stages):
            later = [p for next_stage in stages[number + 1 :] for p in next_stage]
            try:
                generation = layout.new_generation()
            except OSError as error:  # a full disk, say: the served generation is unchanged
                if is_disk_full(error):
                    _make_room(settings, layout, served, start)
                raise _write_error(error, layout) from error
            tracker.generation = generation.name
            try:
                _write(run, generation, start, _Stage(stage, report.removed if number == 0 else [], later))
                start = generation
                if later and not report.total_chunks:
                    continue  # nothing to answer from yet: the next stage starts from this one unpublished
                layout.publish(generation)
            except BaseException as error:
                _discard(settings, generation)
                if is_disk_full(error):
                    _make_room(settings, layout, served, start)
                if isinstance(error, QAError) or not is_chroma_failure(error):
                    raise
                raise _write_error(error, layout) from error
            report.generation, report.pending = generation.name, [p.document.source for p in later]
            report.published.append(generation.name)
            _remove_leftovers(settings, layout, keep={generation.name} | ({previous} if previous else set()))
            previous = generation.name
            if later:
                log.info("Published %s; still to embed: %s", generation.name, ", ".join(report.pending))
            if published is not None:
                published(report)
    return report


@dataclass
class _Planned:
    """A document to embed: its chunks and the sentence texts answers compare with questions."""

    document: SeedDocument
    chunks: list[Chunk]
    compared: list[str]

    @property
    def work(self) -> int:
        return len(self.chunks) + len(self.compared)


def _plan(settings: Settings, todo: list[SeedDocument]) -> list[_Planned]:
    from index.texts import compared_texts

    return [
        _Planned(
            d,
            chunk_document(d, settings.chunk_size, settings.chunk_overlap),
            compared_texts(d.text, d.source, d.metadata),
        )
        for d in todo
    ]


class _Reader:
    """Records which seed the build reads and cleans, for `index status` (``Layout.write_progress``):
    the first one and every large one at once, the others at most every ``PROGRESS_EVERY`` seconds;
    tells the caller's callback of each."""

    def __init__(self, layout: Layout, reading: Reading | None) -> None:
        self.layout, self.reading, self.number, self._recorded = layout, reading, 0, -PROGRESS_EVERY

    def __call__(self, source: str, size: int) -> None:
        self.number += 1
        now = time.monotonic()
        if size >= LARGE_READ or now - self._recorded >= PROGRESS_EVERY:
            self._recorded = now
            self.layout.write_progress(
                {
                    "pid": os.getpid(),
                    "stage": "reading",
                    "reading": source,
                    "bytes": size,
                    "seed": self.number,
                }
            )
        if self.reading is not None:
            self.reading(source, size)


def describe_progress(progress: dict[str, object]) -> str:
    """What a build's progress record says it is doing, in words, e.g. ``reading big.txt (12 MB)``
    or ``generation g000004, 120 of 900 texts embedded, now big.txt``."""

    def count(key: str) -> int:
        value = progress.get(key)
        return value if isinstance(value, int) else 0

    if progress.get("stage") == "reading":
        return f"reading {progress.get('reading')} ({size_words(count('bytes'))})"
    return (
        f"generation {progress.get('generation')}, {count('done'):,} of "
        f"{count('total'):,} texts embedded, now {progress.get('source')}"
    )


def stopped_build(layout: Layout) -> str | None:
    """``a build stopped before finishing at 2025-03-01 12:00:00: it was reading big.txt (50 MB)``
    when the last build was killed (its progress record left behind, no build running), else ``None``."""
    record = layout.stopped_progress()
    if record is None:
        return None
    progress, when = record
    doing = describe_progress(progress)
    if progress.get("stage") != "reading":
        doing = f"embedding {progress.get('source')} ({doing})"
    stamp = datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"a build stopped before finishing at {stamp}: it was {doing}; `python -m index build` runs it again"
    )


class _Tracker:
    """A build's progress over all its stages: told to the caller's callback at every batch and
    recorded for `index status` (``Layout.write_progress``) at most every ``PROGRESS_EVERY`` seconds."""

    def __init__(self, layout: Layout, progress: Progress | None, total: int) -> None:
        self.layout, self.progress, self.total = layout, progress, total
        self.done, self.generation, self._recorded, self._source = 0, "", 0.0, ""

    def add(self, texts: int, planned: _Planned, embedded: int) -> None:
        """``texts`` more done, ``embedded`` of ``planned``'s work in all."""
        self.done += texts
        source = planned.document.source
        now = time.monotonic()
        if now - self._recorded >= PROGRESS_EVERY or embedded >= planned.work or source != self._source:
            self._recorded, self._source = now, source
            self.layout.write_progress(
                {
                    "pid": os.getpid(),
                    "stage": "embedding",
                    "generation": self.generation,
                    "source": planned.document.source,
                    "embedded": embedded,
                    "texts": planned.work,
                    "done": self.done,
                    "total": self.total,
                }
            )
        if self.progress is not None:
            self.progress(self.done, self.total, source)


@dataclass
class _Base:
    """The served generation a build starts from, and its catalog (open; the build closes it)."""

    generation: Generation
    catalog: Catalog


@dataclass
class _Stage:
    """What one generation of a build writes: ``planned`` replaced, ``removed`` gone, ``later``
    (embedded by a later stage) recorded as pending."""

    planned: list[_Planned]
    removed: list[str]
    later: list[_Planned]


@dataclass
class _Run:
    """What every stage of one build shares."""

    settings: Settings
    report: BuildReport
    embedding: EmbeddingRecord
    embeddings: Embeddings | None
    tracker: _Tracker


def _base(
    settings: Settings,
    layout: Layout,
    embedding: EmbeddingRecord,
    rebuild: bool,
    report: BuildReport,
    rebuild_mismatch: bool,
) -> _Base | None:
    """The served generation to start from, or ``None`` to start from nothing; a damaged one is
    set aside (and the build starts from nothing), one built with other settings refused."""
    for legacy in layout.legacy_files():  # the format before generations: rebuilt from the seeds
        shutil.rmtree(legacy, ignore_errors=True) if legacy.is_dir() else legacy.unlink(missing_ok=True)
    try:
        generation = layout.current()
    except IndexMissingError:
        return None
    if rebuild:
        return None
    if reason := check_generation(settings, generation):
        _set_aside(settings, layout, generation, reason, report)
        return None
    catalog = Catalog(generation.catalog_path)
    try:
        manifest = read_manifest(catalog)
    except IndexCorruptError as error:
        catalog.close()
        _set_aside(settings, layout, generation, str(error), report)
        return None
    if reason := manifest.mismatch(embedding, chunking_record(settings)):
        catalog.close()
        if not rebuild_mismatch:
            raise IndexMismatchError(f"Cannot update the index: {reason}; {REBUILD_HINT}")
        log.warning("Rebuilding the index from the seeds: %s", reason)
        return None
    return _Base(generation, catalog)


def _set_aside(
    settings: Settings, layout: Layout, generation: Generation, reason: str, report: BuildReport
) -> None:
    release(generation.chroma_path)
    try:
        where = layout.set_aside(generation, reason)
    except OSError as error:
        raise IndexCorruptError(
            f"The index generation {generation.folder} is damaged ({reason}) and cannot be moved aside "
            f"({error.strerror or error}); check that its folder is writable"
        ) from error
    report.healed = f"The index was damaged ({reason}); it was moved to {where} and rebuilt from the seeds"
    log.warning("%s", report.healed)


def _write(run: _Run, generation: Generation, base: Generation | None, stage: _Stage) -> None:
    """Fill ``generation``: a copy of ``base`` with ``stage.planned`` replaced and
    ``stage.removed`` gone; ``stage.later`` (still to embed, by a later stage) is recorded as
    pending."""
    settings, report, tracker = run.settings, run.report, run.tracker
    planned, removed, later = stage.planned, stage.removed, stage.later
    if base is not None:
        source = sqlite3.connect(f"file:{base.catalog_path}?mode=ro&immutable=1", uri=True)
        target = sqlite3.connect(generation.catalog_path)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        if not settings.chroma_host:
            shutil.copytree(base.chroma_path, generation.chroma_path)
    catalog = Catalog(generation.catalog_path, writable=True)
    try:
        model = run.embeddings or embedder(settings)
        client = chroma_client(settings, generation)
        if settings.chroma_host:
            _drop_collection(client, generation.collection)
        store = vector_store(settings, model, generation, client)
        if base is not None and settings.chroma_host:
            copy_vectors(vector_store(settings, model, base, client), store)
        for name in removed + [p.document.source for p in planned]:
            delete_chunks(store, catalog.chunk_ids(name))
            catalog.delete_document(name)
        for item in planned:
            document, chunks, compared = item.document, item.chunks, item.compared
            for first in range(0, len(chunks), BATCH):
                batch = chunks[first : first + BATCH]
                store.add_texts(
                    texts=[c.text for c in batch],
                    metadatas=[_chunk_metadata(document, c.index, c.start, c.end) for c in batch],
                    ids=[c.id for c in batch],
                )
                report.chunks_embedded += len(batch)
                tracker.add(len(batch), item, first + len(batch))
            keys = [text_key(t) for t in compared]
            known = catalog.vectors(keys)
            missing = [t for t, k in zip(compared, keys, strict=True) if k not in known]
            vectors: dict[bytes, list[float]] = {}
            for first in range(0, len(missing), BATCH * 4):
                batch_texts = missing[first : first + BATCH * 4]
                for text, vector in zip(batch_texts, model.embed_documents(batch_texts), strict=True):
                    vectors[text_key(text)] = vector
                report.sentences_embedded += len(batch_texts)
                tracker.add(len(batch_texts), item, len(chunks) + first + len(batch_texts))
            if len(missing) < len(compared):  # stored already: counted as done
                tracker.add(len(compared) - len(missing), item, item.work)
            catalog.put_document(  # replaces what the document had, its vector references included
                document.source,
                document.sha256,
                document.text,
                document.metadata,
                [(c.id, c.index, c.start, c.end, c.text, terms(c.text)) for c in chunks],
            )
            catalog.put_vectors(document.source, vectors, keys)
        catalog.prune_vectors()
        catalog.set_meta(
            {
                "duplicates": report.duplicates,
                "left_out": report.left_out,
                "pending": [
                    {
                        "source": p.document.source,
                        "texts": p.work,
                        "replaces": p.document.source in report.updated,
                    }
                    for p in later
                ],
            }
        )
        catalog.seal()
        write_manifest(
            catalog,
            Manifest(
                embedding=run.embedding,
                chunking=chunking_record(settings),
                collection=generation.collection,
                generation=generation.name,
                built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )
        report.total_chunks = catalog.chunk_count()
        report.documents = len(catalog.sources())
        vectors_held = client.get_collection(generation.collection).count()
        if vectors_held != report.total_chunks:
            raise IndexCorruptError(
                f"The new generation {generation.name} holds {vectors_held} vectors for "
                f"{report.total_chunks} chunks; it was not published"
            )
    finally:
        catalog.close()


def _drop_collection(client: object, name: str) -> None:
    with contextlib.suppress(Exception):  # nothing to delete is the usual case
        client.delete_collection(name)  # type: ignore[attr-defined]


def _discard(settings: Settings, generation: Generation, *, unpublished: bool = True) -> None:
    """Remove a generation: an unpublished one after a failed build, or a superseded one.

    This process's Chroma system for a superseded folder is left alone: a pipeline of this process
    may still be finishing a question with it (it releases it itself, see ``qa.served``); folder
    names are never reused, so nothing opens the removed one again."""
    try:
        if settings.chroma_host:
            Layout(settings).remote.remove(generation.name)  # type: ignore[union-attr]
        elif unpublished:
            release(generation.chroma_path)
    except BaseException as error:  # noqa: BLE001 - the build's own error is the one to report
        log.debug("Could not discard %s: %s", generation.name, error)
    remove(generation)


def _remove_leftovers(settings: Settings, layout: Layout, keep: set[str], newer_than: str = "") -> None:
    """Remove superseded generations and the unpublished folders of builds that died (with
    ``newer_than``, only generations numbered above it)."""
    for generation in layout.stale(keep):
        if generation.name > newer_than:  # with newer_than, only unpublished folders qualify
            _discard(settings, generation, unpublished=bool(newer_than))


def _make_room(settings: Settings, layout: Layout, served: str | None, start: Generation | None) -> None:
    """After a full disk: the generation kept beside the served one (for questions under way when
    it was published) is removed too, so that room for one copy is enough to build again."""
    keep = {name for name in (served, start.name if start else None) if name}
    with contextlib.suppress(OSError):
        _remove_leftovers(settings, layout, keep=keep)


def _write_error(error: BaseException, layout: Layout) -> QAError:
    if is_disk_full(error):
        why = error.strerror if isinstance(error, OSError) and error.strerror else error
        if isinstance(error, shutil.Error):  # a copy's list of (source, target, why), one per file
            why = "No space left on device"
        return DiskFullError(
            f"The disk holding {layout.root} is full ({why}); the index being served is unchanged. "
            "Free some space and build again"
        )
    if isinstance(error, (OSError, sqlite3.Error)):
        return IndexWriteError(
            f"Writing a new index generation in {layout.root} failed ({type(error).__name__}: {error}); "
            "the index being served is unchanged"
        )
    return chroma_error(error, "Writing the new index generation failed")


def _chunk_metadata(document: SeedDocument, index: int, start: int, end: int) -> dict[str, str | int]:
    meta: dict[str, str | int] = {"source": document.source, "chunk_index": index, "start": start, "end": end}
    meta.update(document.metadata.fields())  # Chroma takes no None values: only the known fields
    return meta
