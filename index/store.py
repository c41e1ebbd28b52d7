"""The Chroma collection that holds the chunks, through ``langchain-chroma``.

Persistent by default (a folder per index generation, see ``index.generations``); a ``chroma run``
server when ``Settings.chroma_host`` is set. Every failure of Chroma leaves here as the project's
own error (:func:`chroma_error`). Telemetry is off, and Chroma's own default embedding function
(which downloads a model) is never used: the embeddings always come from ``index.embed``.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import DiskFullError, IndexCorruptError, QAError
from index.catalog import CATALOG_NAME
from index.chunk import CHUNKER_VERSION
from index.manifest import ChunkingRecord

if TYPE_CHECKING:
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings

    from core.settings import Settings

# Cosine distance: with normalised embeddings, relevance = 1 - distance is the cosine similarity.
COLLECTION_CONFIGURATION: dict[str, Any] = {"hnsw": {"space": "cosine"}}


@dataclass(frozen=True)
class Generation:
    """One generation of the index: a folder, and the collection that holds its vectors."""

    name: str
    folder: Path
    collection: str

    @property
    def catalog_path(self) -> Path:
        return self.folder / CATALOG_NAME

    @property
    def chroma_path(self) -> Path:
        return self.folder / "chroma"


def chunking_record(settings: Settings) -> ChunkingRecord:
    return ChunkingRecord(splitter=CHUNKER_VERSION, size=settings.chunk_size, overlap=settings.chunk_overlap)


def is_chroma_failure(error: BaseException) -> bool:
    """Whether ``error`` is Chroma failing: any ``Exception``, or the ``PanicException`` its Rust
    core raises on some damaged files, which derives from ``BaseException`` (so that a bare
    ``except Exception`` lets it through as a traceback). Ctrl-C and exits are not failures."""
    return isinstance(error, Exception) or type(error).__name__ == "PanicException"


def chroma_client(settings: Settings, generation: Generation | None = None) -> chromadb.ClientAPI:
    """A Chroma client for a generation's folder (local) or for the server named by ``settings``,
    telemetry off."""
    os.environ["ANONYMIZED_TELEMETRY"] = "False"
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    where = f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else None
    try:
        if settings.chroma_host:
            return chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        assert generation is not None, "a local index is opened one generation at a time"
        where = str(generation.chroma_path)
        return chromadb.PersistentClient(
            path=str(_openable(generation.chroma_path)), settings=chroma_settings
        )
    except ValueError as error:  # chromadb reports an unreachable server as ValueError
        if not settings.chroma_host:
            raise chroma_error(error, f"Cannot open the Chroma index in {where}") from error
        raise QAError(
            f"Cannot reach the Chroma server at {where} ({error}); "
            "start it with `chroma run --path data/chroma-server` or unset QA_CHROMA_HOST"
        ) from error
    except BaseException as error:  # a damaged sqlite file or folder surfaces as many kinds of error
        if not is_chroma_failure(error):
            raise
        failure = chroma_error(error, f"Cannot open the Chroma index in {where}")
        if (
            isinstance(failure, DiskFullError)
            and generation is not None
            and generation.chroma_path not in _COPIES
        ):
            return _opened_from_a_copy(generation.chroma_path, chroma_settings, failure)
        raise failure from error


def _opened_from_a_copy(path: Path, chroma_settings: Any, failure: DiskFullError) -> chromadb.ClientAPI:
    """A client over a private copy of ``path`` (see :func:`_openable`): Chroma writes its log
    files even to read, which a full disk refuses; the copy goes to the temporary folder, which
    may be on another disk. ``failure`` when that disk is full too."""
    import chromadb

    try:
        return chromadb.PersistentClient(path=str(_openable(path, copy=True)), settings=chroma_settings)
    except BaseException as error:
        if not is_chroma_failure(error):
            raise
        _COPIES.pop(path, None)
        raise failure from error


_COPIES: dict[Path, Path] = {}


def _openable(path: Path, *, copy: bool = False) -> Path:
    """``path``, or a private copy of it when it cannot be written (or ``copy``): Chroma opens its
    SQLite file for writing even to read, so a generation on a read-only disk is served from a
    copy in the temporary folder (made once per process, removed at exit)."""
    writable = os.access(path, os.W_OK) and os.access(path / "chroma.sqlite3", os.W_OK)
    if not path.is_dir() or writable and not copy and path not in _COPIES:
        return path
    if path not in _COPIES:
        import atexit
        import shutil
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="qa-private-index-"))
        atexit.register(shutil.rmtree, folder, True)
        try:
            shutil.copytree(path, folder / "chroma")
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)  # the temporary folder's disk is full too
            raise
        _COPIES[path] = folder / "chroma"
    return _COPIES[path]


def chroma_error(error: BaseException, what: str) -> QAError:
    """A failure of Chroma as the project's error: a full disk, or a damaged index."""
    text = f"{type(error).__name__}: {error}"
    if is_disk_full(error):
        return DiskFullError(f"{what}: the disk is full ({text}); free some space and build again")
    return IndexCorruptError(f"{what} ({text}); run `python -m index build`, which rebuilds a damaged index")


def is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    text = str(error).lower()
    return "disk is full" in text or "no space left" in text or "database or disk is full" in text


def release(path: Path) -> None:
    """Stop this process's Chroma system for a local folder, so that it can be moved or removed.

    Chroma keeps one system per folder path for the whole process; a client made later for the
    same path would otherwise reuse it, with its files already gone. Clients made before stop
    working, as they would once the folder is gone.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    identifier = str(path)  # the persist_directory Chroma keys by
    system = SharedSystemClient._identifier_to_system.pop(identifier, None)
    SharedSystemClient._identifier_to_refcount.pop(identifier, None)
    if system is not None:
        with contextlib.suppress(Exception):  # a damaged index may not stop cleanly; it is set aside anyway
            system.stop()


def vector_store(
    settings: Settings,
    embeddings: Embeddings,
    generation: Generation,
    client: chromadb.ClientAPI | None = None,
) -> Chroma:
    """The LangChain vector store over one generation's collection."""
    from langchain_chroma import Chroma

    try:
        return Chroma(
            collection_name=generation.collection,
            embedding_function=embeddings,
            client=client or chroma_client(settings, generation),
            collection_configuration=COLLECTION_CONFIGURATION,  # type: ignore[arg-type]
            relevance_score_fn=lambda distance: 1.0 - distance,
        )
    except QAError:
        raise
    except BaseException as error:
        if not is_chroma_failure(error):
            raise
        raise chroma_error(error, f"Cannot open the collection {generation.collection}") from error


# Rows read or deleted per Chroma call: its SQLite statements take at most 32,766 variables, so one
# get() or delete() of more rows fails ("too many SQL variables").
PAGE = 5_000


def copy_vectors(source: Chroma, target: Chroma) -> int:
    """Copy every row (id, text, metadata, vector) of one collection into another, ``PAGE`` rows
    at a time: how a server's generation starts from the one before it."""
    copied = 0
    while True:
        rows = source.get(include=["documents", "metadatas", "embeddings"], limit=PAGE, offset=copied)
        if not rows["ids"]:
            return copied
        target._collection.add(
            ids=rows["ids"],
            documents=rows["documents"],
            metadatas=rows["metadatas"],
            embeddings=rows["embeddings"],
        )
        copied += len(rows["ids"])
        if len(rows["ids"]) < PAGE:
            return copied


def delete_chunks(store: Chroma, ids: list[str]) -> None:
    """Delete chunks by id, ``PAGE`` at a time (a 50 MB seed has more chunks than one call takes)."""
    for first in range(0, len(ids), PAGE):
        store.delete(ids=ids[first : first + PAGE])
