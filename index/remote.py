"""What a ``chroma run`` server holds besides the vectors, so that every machine pointed at it
serves the same index.

- ``<collection>--current``: an empty collection whose metadata names the published generation
  (the server's ``CURRENT``); publishing rewrites that metadata, one request.
- ``<collection>--catalog-<generation>``: the generation's catalog file (``index.catalog``),
  compressed, in parts of ``PART`` bytes kept in row metadata (not as documents, which Chroma
  would index for full-text search). A machine that does not have a generation's catalog
  downloads it once into its own index folder before serving it.

The build lock is per machine: run builds against one server from one machine at a time.
"""

from __future__ import annotations

import base64
import os
import re
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import IndexCorruptError

if TYPE_CHECKING:
    from core.settings import Settings

PART = 256 * 1024
PARTS_PER_CALL = 8


class ServerCatalogs:
    """The published pointer and the catalogs kept on the server of ``settings``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.prefix = settings.collection
        self._client: Any = None
        self._pointer: tuple[float, str | None] = (0.0, None)

    @property
    def client(self) -> Any:
        if self._client is None:
            from index.store import chroma_client

            self._client = chroma_client(self.settings)
        return self._client

    def _collection(self, name: str, create: bool = False) -> Any:
        from chromadb.errors import NotFoundError

        try:
            if create:
                return self.client.get_or_create_collection(name)
            return self.client.get_collection(name)
        except NotFoundError:
            return None

    # --- the published generation

    def current_name(self, max_age: float = 1.0) -> str | None:
        """The generation the server says is published (asked at most once a ``max_age`` seconds)."""
        checked, name = self._pointer
        if time.monotonic() - checked < max_age:
            return name
        pointer = self._collection(f"{self.prefix}--current")
        name = (pointer.metadata or {}).get("generation") if pointer is not None else None
        self._pointer = (time.monotonic(), name)
        return name

    def publish(self, name: str, catalog: Path) -> None:
        """Upload ``catalog`` for generation ``name``, then point the server at it."""
        self._upload(name, catalog)
        pointer = self._collection(f"{self.prefix}--current", create=True)
        pointer.modify(metadata={"generation": name, "published": time.time()})
        self._pointer = (time.monotonic(), name)

    def generation_numbers(self) -> list[int]:
        """The numbers of every generation the server holds vectors or a catalog for."""
        pattern = re.compile(rf"{re.escape(self.prefix)}(?:-|--catalog-)g(\d{{6}})")
        numbers = []
        for collection in self.client.list_collections():
            name = collection if isinstance(collection, str) else collection.name
            if match := pattern.fullmatch(name):
                numbers.append(int(match.group(1)))
        return numbers

    def remove(self, name: str) -> None:
        for collection in (f"{self.prefix}-{name}", f"{self.prefix}--catalog-{name}"):
            if self._collection(collection) is not None:
                self.client.delete_collection(collection)

    # --- catalogs

    def _upload(self, name: str, catalog: Path) -> None:
        data = zlib.compress(catalog.read_bytes(), 6)
        collection_name = f"{self.prefix}--catalog-{name}"
        if self._collection(collection_name) is not None:
            self.client.delete_collection(collection_name)
        collection = self._collection(collection_name, create=True)
        parts = [data[i : i + PART] for i in range(0, len(data), PART)] or [b""]
        for first in range(0, len(parts), PARTS_PER_CALL):
            batch = parts[first : first + PARTS_PER_CALL]
            collection.add(
                ids=[f"{first + i:08d}" for i in range(len(batch))],
                embeddings=[[0.0] for _ in batch],
                metadatas=[{"data": base64.b64encode(p).decode("ascii"), "parts": len(parts)} for p in batch],
            )

    def download(self, name: str, target: Path) -> None:
        """Write generation ``name``'s catalog to ``target`` (atomically: whole or not at all)."""
        collection = self._collection(f"{self.prefix}--catalog-{name}")
        if collection is None:
            raise IndexCorruptError(
                f"The Chroma server names generation {name} as published but holds no catalog for it; "
                "run `python -m index build --rebuild`"
            )
        rows: dict[str, str] = {}
        total = None
        while total is None or len(rows) < total:
            got = collection.get(include=["metadatas"], limit=PARTS_PER_CALL, offset=len(rows))
            if not got["ids"]:
                break
            for row_id, meta in zip(got["ids"], got["metadatas"], strict=True):
                rows[row_id] = meta["data"]
                total = int(meta["parts"])
        if total is None or len(rows) != total:
            raise IndexCorruptError(f"The catalog of generation {name} on the Chroma server is incomplete")
        data = zlib.decompress(b"".join(base64.b64decode(rows[k]) for k in sorted(rows)))
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}")
        partial.write_bytes(data)
        os.replace(partial, target)
