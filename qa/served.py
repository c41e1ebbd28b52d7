"""One published index generation, opened for answering.

A :class:`ServedIndex` is what answerers read for one question (the ``Library`` of
:mod:`qa.answer`): the documents' texts exactly as indexed in this generation (so that a citation's
offsets always hold its quote, and the document view shows that same text), their metadata, the
lexical statistics and the stored sentence vectors. Everything is read from the generation's
catalog on demand: opening one reads no document and no chunk, whatever the size of the corpus.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from core.errors import UnknownSourceError
from qa.answer import Described

if TYPE_CHECKING:
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings

    from core.settings import Settings
    from index.catalog import Catalog
    from index.metadata import DocumentMetadata
    from index.store import Generation
    from qa.retrieve import Retriever

Vector = Sequence[float]


class VectorCache:
    """Embeddings by text, at most ``size`` of them (float32 arrays), least recently used dropped."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Vector] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> Vector | None:
        with self._lock:
            vector = self._items.get(text)
            if vector is not None:
                self._items.move_to_end(text)
            return vector

    def put(self, text: str, vector: Vector) -> None:
        from array import array

        with self._lock:
            self._items[text] = vector if isinstance(vector, array) else array("f", vector)
            self._items.move_to_end(text)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class CachedEmbeddings:
    """The embedder every part of a pipeline uses (the answerers, the judge, Chroma's query
    embedding), in front of the model: a text is looked up in ``cache`` once, and only the ones not
    there are embedded, then remembered. The model is loaded (``load()``) on first need."""

    def __init__(self, load: Callable[[], Embeddings], cache: VectorCache) -> None:
        self._load = load
        self.cache = cache

    def lookup(self, texts: list[str]) -> dict[str, Vector]:
        """The vectors the cache holds for any of ``texts``."""
        return {t: v for t in dict.fromkeys(texts) if (v := self.cache.get(t)) is not None}

    def compute(self, texts: list[str]) -> list[Vector]:
        """``texts`` embedded by the model now (each once), and remembered."""
        unique = list(dict.fromkeys(texts))
        vectors = dict(zip(unique, self._load().embed_documents(unique), strict=True)) if unique else {}
        for text, vector in vectors.items():
            self.cache.put(text, vector)
        return [vectors[t] for t in texts]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        found = self.lookup(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        found.update(zip(missing, self.compute(missing), strict=True))
        return [list(found[t]) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class ServedIndex:
    """A generation opened for answering; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        generation: Generation,
        catalog: Catalog,
        store: Chroma,
        embedder: CachedEmbeddings,
    ) -> None:
        self.settings = settings
        self.generation = generation
        self.catalog = catalog
        self.store = store
        self._embedder = embedder
        self._idf: dict[str, float] = {}
        self._texts: OrderedDict[str, str] = OrderedDict()  # the last few documents read
        self._described: Described | None = None
        self._lock = threading.Lock()
        # Indexed seeds whose file changed and cannot be read (the build's record, ``index.load.left_out``):
        # their text here is no longer the file's, so answers leave them out.
        self.left_out: dict[str, str] = dict(catalog.meta().get("left_out") or {})

    @property
    def name(self) -> str:
        return self.generation.name

    @cached_property
    def retriever(self) -> Retriever:
        from qa.retrieve import Retriever

        return Retriever(
            self.store,
            self.catalog,
            self.settings,
            demoted=self.catalog.stuffed(self.settings.max_keyword_share)
            + self.catalog.addressing(self.settings.max_addressed_share),
            excluded=self.left_out,
        )

    def leave_out(self, left_out: dict[str, str]) -> None:
        """Leave these seeds (source -> why) out of answers from now on, besides the build's record."""
        with self._lock:
            self.left_out = {**dict(self.catalog.meta().get("left_out") or {}), **left_out}
            self.retriever.excluded = frozenset(self.left_out)
            self._described = None

    @cached_property
    def _sources(self) -> list[str]:
        return self.catalog.sources()

    def sources(self) -> list[str]:
        """The documents answers may cite: every one indexed but those left out."""
        return [s for s in self._sources if s not in self.left_out]

    def text(self, source: str) -> str:
        with self._lock:
            if source in self._texts:
                self._texts.move_to_end(source)
                return self._texts[source]
        text = self.catalog.text(source)
        if text is None:
            raise UnknownSourceError(f"No document named {source!r} in the index")
        with self._lock:
            self._texts[source] = text
            while len(self._texts) > 32:
                self._texts.popitem(last=False)
        return text

    def metadata(self, source: str) -> DocumentMetadata:
        metadata = self.catalog.metadata(source)
        if metadata is None:
            raise UnknownSourceError(f"No document named {source!r} in the index")
        return metadata

    def described(self) -> Described:
        """Every document's name, description, description vector (one matrix) and description
        terms, read once per generation: a metadata question compares the question with them all."""
        with self._lock:
            if self._described is None:
                import numpy as np

                from core.lexical import terms
                from index.texts import describe

                rows = [row for row in self.catalog.records() if row[0] not in self.left_out]
                sources = [source for source, *_ in rows]
                texts = [describe(source, meta) for source, _, _, _, meta in rows]
                matrix = np.asarray(self.embed(texts), dtype=np.float32).reshape(len(texts), -1)
                self._described = Described(sources, matrix, [frozenset(terms(t)) for t in texts])
            return self._described

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency over the chunks; a word no chunk holds weighs as the rarest."""
        if term not in self._idf:
            df = self.catalog.document_frequency(term) or 1
            if len(self._idf) > 50_000:
                self._idf.clear()
            self._idf[term] = math.log((self.catalog.chunk_count() + 1) / (df + 0.5))
        return self._idf[term]

    def mentions(self, word: str) -> bool:
        """Whether any indexed document contains ``word`` (folded; ``12000`` matches ``12,000``)."""
        return self.catalog.mentions(word)

    def embed(self, texts: list[str]) -> list[Vector]:
        """Embeddings of ``texts``: from the cache, else stored with the index, else computed now."""
        from index.catalog import text_key

        found = self._embedder.lookup(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            keys = {text_key(t): t for t in missing}
            for key, vector in self.catalog.vectors(list(keys)).items():
                found[keys[key]] = vector
                self._embedder.cache.put(keys[key], vector)
            computed = [t for t in missing if t not in found]
            if computed:  # embedded now, and remembered by the embedder
                found.update(zip(computed, self._embedder.compute(computed), strict=True))
        return [found[t] for t in texts]

    def close(self) -> None:
        """Close the catalog and, for a local index, this process's Chroma system for the folder."""
        self.catalog.close()
        if not self.settings.chroma_host:
            from index.store import release

            release(self.generation.chroma_path)
