"""The manifest of an index generation: what built it. It lives in the generation's catalog
(``index.catalog``, table ``meta``), written once when the generation is built.

Queries compare it with the settings in use and refuse an index built with another embedding model
or other chunk settings. Per-document records (content hash, metadata, chunk count) are rows of
the catalog's ``documents`` table, written one document at a time.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from core.errors import IndexCorruptError, IndexMismatchError

if TYPE_CHECKING:
    from index.catalog import Catalog

FORMAT_VERSION = 7  # 7: addressed_sentences and addressed_share in each document's metadata
REBUILD_HINT = "run `python -m index build --rebuild`"


class EmbeddingRecord(BaseModel):
    id: str
    dimension: int


class ChunkingRecord(BaseModel):
    splitter: str
    size: int
    overlap: int


class Manifest(BaseModel):
    format_version: int = FORMAT_VERSION
    embedding: EmbeddingRecord
    chunking: ChunkingRecord
    collection: str
    generation: str = ""
    built_at: str = ""

    def mismatch(self, embedding: EmbeddingRecord, chunking: ChunkingRecord) -> str | None:
        """Why this index cannot serve these settings, or ``None`` when it can."""
        if self.format_version != FORMAT_VERSION:
            return f"the index has format {self.format_version}, this version reads format {FORMAT_VERSION}"
        if self.embedding.id != embedding.id:
            return f"the index was built with embedding model {self.embedding.id}, settings ask for {embedding.id}"
        if self.chunking != chunking:
            return (
                f"the index was built with chunks of {self.chunking.size} chars, overlap {self.chunking.overlap} "
                f"({self.chunking.splitter}); settings ask for {chunking.size}, {chunking.overlap} ({chunking.splitter})"
            )
        return None

    def check(self, embedding: EmbeddingRecord, chunking: ChunkingRecord) -> None:
        """Raise ``IndexMismatchError`` when :meth:`mismatch` finds a reason."""
        if reason := self.mismatch(embedding, chunking):
            raise IndexMismatchError(f"Cannot use the index: {reason}; {REBUILD_HINT}")


def read_manifest(catalog: Catalog) -> Manifest:
    """The manifest stored in ``catalog``; ``IndexCorruptError`` when it is missing or unreadable."""
    try:
        values: dict[str, Any] = catalog.meta()
        return Manifest.model_validate(values)
    except (ValidationError, ValueError, sqlite3.Error) as error:
        raise IndexCorruptError(
            f"The manifest in {catalog.path} is unreadable ({type(error).__name__}); {REBUILD_HINT}"
        ) from error


def write_manifest(catalog: Catalog, manifest: Manifest) -> None:
    catalog.set_meta(manifest.model_dump())
