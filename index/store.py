"""The Chroma collection that holds the chunks, through ``langchain-chroma``.

Persistent by default (a folder, ``Settings.resolved_index_dir``); a ``chroma run`` server when
``Settings.chroma_host`` is set. Telemetry is off, and Chroma's own default embedding function
(which downloads a model) is never used: the embeddings always come from ``index.embed``.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from index.chunk import CHUNKER_VERSION
from index.manifest import ChunkingRecord, EmbeddingRecord, Manifest, read_manifest
from qa.errors import IndexCorruptError, IndexMissingError, QAError

if TYPE_CHECKING:
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings

    from qa.settings import Settings

# Cosine distance: with normalised embeddings, relevance = 1 - distance is the cosine similarity.
COLLECTION_CONFIGURATION: dict[str, Any] = {"hnsw": {"space": "cosine"}}


def chunking_record(settings: Settings) -> ChunkingRecord:
    return ChunkingRecord(splitter=CHUNKER_VERSION, size=settings.chunk_size, overlap=settings.chunk_overlap)


def is_chroma_failure(error: BaseException) -> bool:
    """Whether ``error`` is Chroma failing: any ``Exception``, or the ``PanicException`` its Rust
    core raises on some damaged files, which derives from ``BaseException`` (so that a bare
    ``except Exception`` lets it through as a traceback). Ctrl-C and exits are not failures."""
    return isinstance(error, Exception) or type(error).__name__ == "PanicException"


def chroma_client(settings: Settings) -> chromadb.ClientAPI:
    """A Chroma client for the folder or the server named by ``settings``, telemetry off."""
    os.environ["ANONYMIZED_TELEMETRY"] = "False"
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    try:
        if settings.chroma_host:
            return chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        index_dir = settings.resolved_index_dir
        index_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(index_dir / "chroma"), settings=chroma_settings)
    except ValueError as error:  # chromadb reports an unreachable server as ValueError
        raise QAError(
            f"Cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} ({error}); "
            "start it with `chroma run --path data/chroma-server` or unset QA_CHROMA_HOST"
        ) from error
    except BaseException as error:  # a damaged sqlite file or folder surfaces as many kinds of error
        if not is_chroma_failure(error):
            raise
        raise IndexCorruptError(
            f"Cannot open the Chroma index in {settings.resolved_index_dir} ({type(error).__name__}: {error}); "
            "run `python -m index build --rebuild`"
        ) from error


def release_folder(settings: Settings) -> None:
    """Stop this process's Chroma system for the local index folder, so the folder can be moved.

    Chroma keeps one system per folder path for the whole process; a client made later for the
    same path would otherwise reuse it, with its files already moved away. Clients made before keep
    pointing at the old folder and stop working, as they would once it is gone.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    identifier = str(settings.resolved_index_dir / "chroma")  # the persist_directory Chroma keys by
    system = SharedSystemClient._identifier_to_system.pop(identifier, None)
    SharedSystemClient._identifier_to_refcount.pop(identifier, None)
    if system is not None:
        with contextlib.suppress(Exception):  # a damaged index may not stop cleanly; it is set aside anyway
            system.stop()


def vector_store(
    settings: Settings, embeddings: Embeddings, client: chromadb.ClientAPI | None = None
) -> Chroma:
    """The LangChain vector store over the project's collection."""
    from langchain_chroma import Chroma

    return Chroma(
        collection_name=settings.collection,
        embedding_function=embeddings,
        client=client or chroma_client(settings),
        collection_configuration=COLLECTION_CONFIGURATION,  # type: ignore[arg-type]
        relevance_score_fn=lambda distance: 1.0 - distance,
    )


@dataclass
class StoredChunk:
    """A chunk as read back from the store."""

    id: str
    text: str
    metadata: dict[str, Any]


def open_index(settings: Settings, embedding: EmbeddingRecord) -> Manifest:
    """The manifest of a usable index for these settings; raises when missing, corrupt or mismatched."""
    manifest = read_manifest(settings.resolved_index_dir)
    manifest.check(embedding, chunking_record(settings))
    if not manifest.documents:
        raise IndexMissingError(
            f"The index in {settings.resolved_index_dir} is empty: run `python -m index build`"
        )
    return manifest


# Rows read or deleted per Chroma call: its SQLite statements take at most 32,766 variables, so one
# get() of every row fails ("too many SQL variables") past about 32,000 chunks.
PAGE = 5_000


def read_all_chunks(store: Chroma) -> list[StoredChunk]:
    """Every chunk in the collection, in document and reading order, read ``PAGE`` rows at a time."""
    ids: list[str] = []
    texts: list[str] = []
    metas: list[dict[str, Any]] = []
    try:
        while True:
            rows = store.get(include=["documents", "metadatas"], limit=PAGE, offset=len(ids))
            ids += rows["ids"]
            texts += rows["documents"]
            metas += [dict(m or {}) for m in rows["metadatas"]]
            if len(rows["ids"]) < PAGE:
                break
    except BaseException as error:
        if not is_chroma_failure(error):
            raise
        raise IndexCorruptError(
            f"Cannot read the chunks back from Chroma ({type(error).__name__}: {error}); "
            "run `python -m index build --rebuild`"
        ) from error
    chunks = [StoredChunk(i, text, meta) for i, text, meta in zip(ids, texts, metas, strict=True)]
    chunks.sort(key=lambda c: (str(c.metadata.get("source")), int(c.metadata.get("start", 0))))
    return chunks


def delete_chunks(store: Chroma, ids: list[str]) -> None:
    """Delete chunks by id, ``PAGE`` at a time (a 50 MB seed has more chunks than one call takes)."""
    for first in range(0, len(ids), PAGE):
        store.delete(ids=ids[first : first + PAGE])
