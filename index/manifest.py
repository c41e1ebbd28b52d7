"""The manifest kept beside the index: what built it, and a content hash per document.

Queries compare it with the settings in use and refuse an index built with another embedding model
or other chunk settings. Builds use the hashes to skip unchanged documents.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from index.metadata import DocumentMetadata
from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
REBUILD_HINT = "run `python -m index build --rebuild`"


class EmbeddingRecord(BaseModel):
    id: str
    dimension: int


class ChunkingRecord(BaseModel):
    splitter: str
    size: int
    overlap: int


class DocumentRecord(BaseModel):
    sha256: str
    chunk_ids: list[str]
    metadata: DocumentMetadata
    chars: int


class Manifest(BaseModel):
    format_version: int = FORMAT_VERSION
    embedding: EmbeddingRecord
    chunking: ChunkingRecord
    collection: str
    documents: dict[str, DocumentRecord] = Field(default_factory=dict)
    updated_at: str = ""

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


def manifest_path(index_dir: Path) -> Path:
    return index_dir / MANIFEST_NAME


def read_manifest(index_dir: Path) -> Manifest:
    """The manifest in ``index_dir``; a clear error when it is missing or unreadable."""
    path = manifest_path(index_dir)
    if not path.is_file():
        raise IndexMissingError(f"No index in {index_dir}: run `python -m index build`")
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValidationError, json.JSONDecodeError) as error:
        raise IndexCorruptError(
            f"The index manifest {path} is unreadable ({type(error).__name__}); {REBUILD_HINT}"
        ) from error


def write_manifest(index_dir: Path, manifest: Manifest) -> None:
    """Write atomically: a crash leaves the old manifest or the new one, never half of one."""
    index_dir.mkdir(parents=True, exist_ok=True)
    manifest.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
    fd, tmp = tempfile.mkstemp(dir=index_dir, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(manifest.model_dump_json(indent=2))
    os.replace(tmp, manifest_path(index_dir))
