"""Build or update the index: load, clean, chunk, embed and store the seeds.

Incremental: documents whose content hash is in the manifest are skipped, changed ones are
replaced, deleted ones removed. A seed that cannot be read is reported and keeps whatever the
index already held for it. The manifest is written after every document, so an interrupted build
loses nothing and the next one resumes.

    python -m index build            # add, replace and remove what changed
    python -m index build --rebuild  # start over (after changing the model or the chunk settings)
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from index.chunk import chunk_document
from index.embed import load_embeddings, model_info
from index.load import SeedDocument, load_seeds
from index.manifest import (
    REBUILD_HINT,
    DocumentRecord,
    EmbeddingRecord,
    Manifest,
    read_manifest,
    write_manifest,
)
from index.store import chroma_client, chunking_record, delete_chunks, release_folder, vector_store
from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from qa.settings import Settings

Progress = Callable[[int, int, str], None]  # (chunks embedded so far, chunks to embed, document)
BATCH = 32


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    total_chunks: int = 0

    def summary(self) -> str:
        """One line, e.g. ``2 added, 1 updated, 0 removed, 2 unchanged; 31 chunks embedded, 70 in all``."""
        line = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged; {self.chunks_embedded} chunks embedded, {self.total_chunks} in all"
        )
        if self.errors:
            line += f"; {len(self.errors)} seed(s) could not be read"
        return line


def embedding_record(settings: Settings) -> EmbeddingRecord:
    info = model_info(settings.resolved_embedding_model)
    return EmbeddingRecord(id=info.id, dimension=info.dimension)


def _existing_manifest(settings: Settings, embedding: EmbeddingRecord, rebuild: bool) -> Manifest | None:
    try:
        manifest = read_manifest(settings.resolved_index_dir)
    except IndexMissingError:
        return None
    except IndexCorruptError:
        if rebuild:
            return None
        raise
    if (reason := manifest.mismatch(embedding, chunking_record(settings))) and not rebuild:
        raise IndexMismatchError(f"Cannot update the index: {reason}; {REBUILD_HINT}")
    return None if rebuild else manifest


def build_index(
    settings: Settings,
    *,
    rebuild: bool = False,
    embeddings: Embeddings | None = None,
    progress: Progress | None = None,
) -> BuildReport:
    """Bring the index in line with the seeds folder and return what changed."""
    loaded = load_seeds(settings.seeds_dir)
    embedding = embedding_record(settings)
    set_aside = _set_aside(settings) if rebuild else None
    existing = _existing_manifest(settings, embedding, rebuild)
    report = BuildReport(errors=[str(e) for e in loaded.errors], skipped=loaded.skipped)

    client = chroma_client(settings)
    if existing is None:
        with contextlib.suppress(Exception):  # nothing to delete is the usual case
            client.delete_collection(settings.collection)
    manifest = existing or Manifest(
        embedding=embedding, chunking=chunking_record(settings), collection=settings.collection
    )
    todo: list[SeedDocument] = []
    for document in loaded.documents:
        record = manifest.documents.get(document.source)
        if record is not None and record.sha256 == document.sha256:
            report.unchanged.append(document.source)
        else:
            todo.append(document)
            (report.updated if record is not None else report.added).append(document.source)
    present = {d.source for d in loaded.documents} | set(loaded.unreadable)
    gone = [s for s in manifest.documents if s not in present]

    if todo or gone or existing is None:
        store = vector_store(
            settings, embeddings or load_embeddings(settings.resolved_embedding_model), client
        )
        planned = [
            (document, chunk_document(document, settings.chunk_size, settings.chunk_overlap))
            for document in todo
        ]
        total = sum(len(chunks) for _, chunks in planned)
        for document, chunks in planned:
            if old := manifest.documents.get(document.source):
                delete_chunks(store, old.chunk_ids)
            for first in range(0, len(chunks), BATCH):
                batch = chunks[first : first + BATCH]
                store.add_texts(
                    texts=[c.text for c in batch],
                    metadatas=[_chunk_metadata(document, c.index, c.start, c.end) for c in batch],
                    ids=[c.id for c in batch],
                )
                report.chunks_embedded += len(batch)
                if progress:
                    progress(report.chunks_embedded, total, document.source)
            manifest.documents[document.source] = DocumentRecord(
                sha256=document.sha256,
                chunk_ids=[c.id for c in chunks],
                metadata=document.metadata,
                chars=len(document.text),
            )
            write_manifest(settings.resolved_index_dir, manifest)
        for source in gone:
            delete_chunks(store, manifest.documents.pop(source).chunk_ids)
            report.removed.append(source)
        write_manifest(settings.resolved_index_dir, manifest)
    report.total_chunks = sum(len(r.chunk_ids) for r in manifest.documents.values())
    if set_aside is not None:
        shutil.rmtree(set_aside, ignore_errors=True)
    return report


def _set_aside(settings: Settings) -> Path | None:
    """A rebuild of a local index starts from an empty folder: the old one is moved aside (and
    removed once the new one is built), so that a damaged ``chroma.sqlite3`` cannot make the rebuild
    fail like everything else, and no vector folder of an old collection stays behind."""
    if settings.chroma_host:
        return None  # a server's collection is dropped through its API
    index_dir = settings.resolved_index_dir
    old = index_dir.with_name(index_dir.name + ".old")
    try:
        shutil.rmtree(old, ignore_errors=True)
        if index_dir.exists():
            release_folder(settings)
            os.replace(index_dir, old)
    except OSError as error:
        raise IndexCorruptError(
            f"Cannot move the old index {index_dir} aside to rebuild it ({error}); "
            "check that its folder is writable"
        ) from error
    return old


def _chunk_metadata(document: SeedDocument, index: int, start: int, end: int) -> dict[str, str | int]:
    meta: dict[str, str | int] = {"source": document.source, "chunk_index": index, "start": start, "end": end}
    meta.update(document.metadata.fields())  # Chroma takes no None values: only the known fields
    return meta
