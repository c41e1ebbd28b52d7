"""Find the passages most likely to answer a question: dense (Chroma), BM25 (SQLite FTS5), or both fused.

Hybrid retrieval (:class:`HybridRetriever`, a LangChain ``BaseRetriever``) runs both retrievers
and fuses their rankings once by weighted reciprocal rank fusion (:func:`fuse`), then keeps at most
``max_per_source`` passages from one article while passages from other articles are still in the
fused list, so that one article cannot crowd out the rest. Passages of keyword-stuffed documents
(a few words repeated over and over: ``index.clean.keyword_share``) and of documents that speak to
the software reading them (planted instructions: ``index.injection``) rank after all others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from core.errors import QAError
from core.lexical import terms
from index.store import chroma_error, is_chroma_failure
from qa.schema import Passage

if TYPE_CHECKING:
    from langchain_chroma import Chroma

    from core.settings import RetrievalMode, Settings
    from index.catalog import Catalog


class DenseRetriever(BaseRetriever):
    """Chroma similarity search; each document's ``metadata['dense_score']`` is its cosine similarity."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    store: Any  # langchain_chroma.Chroma (Any: pydantic cannot validate it)
    k: int = 20
    sources: list[str] | None = None
    excluded: list[str] = []  # documents never returned

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        where: dict[str, Any] | None = None
        if self.sources:
            where = {"source": {"$in": self.sources}}
        elif self.excluded:
            where = {"source": {"$nin": self.excluded}}
        # Cosine distance in, cosine similarity out (it may be slightly negative: no warning wanted).
        try:
            hits = self.store.similarity_search_with_score(query, k=self.k, filter=where)
        except QAError:
            raise
        except BaseException as error:  # Chroma's own errors (a damaged or removed index) stay inside
            if not is_chroma_failure(error):
                raise
            raise chroma_error(error, "The vector search failed") from error
        for document, distance in hits:
            document.metadata["dense_score"] = round(1.0 - float(distance), 6)
            document.metadata["id"] = document.id
        return [document for document, _ in hits]


class LexicalRetriever(BaseRetriever):
    """BM25 over the chunks' content words (``core.lexical.terms``, folded and stemmed), from the
    generation's persisted FTS5 index (``index.catalog``): its cost follows the postings of the
    question's terms, not the size of the corpus, and nothing is built when a process starts.
    Each document's ``metadata['bm25_score']`` is its BM25 score."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    catalog: Any  # index.catalog.Catalog
    k: int = 20
    sources: list[str] | None = None
    excluded: list[str] = []  # documents never returned

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = []
        for row, score in self.catalog.search(terms(query), self.k, self.sources, self.excluded):
            text = row.pop("text")
            hits.append(Document(page_content=text, id=row["id"], metadata={**row, "bm25_score": score}))
        return hits


def diversify(ranked: list[Document], k: int, max_per_source: int) -> list[Document]:
    """The first ``k`` of ``ranked``, skipping a source's passages past ``max_per_source``
    while other sources' passages remain; the skipped ones fill any room left, in order.

    >>> docs = [Document(page_content=str(i), metadata={"source": s}) for i, s in enumerate("aaab")]
    >>> [d.page_content for d in diversify(docs, 3, 2)]
    ['0', '1', '3']
    """
    chosen: list[Document] = []
    held: list[Document] = []
    per_source: Counter[str] = Counter()
    for document in ranked:
        source = str(document.metadata.get("source"))
        if per_source[source] < max_per_source:
            chosen.append(document)
            per_source[source] += 1
        else:
            held.append(document)
        if len(chosen) == k:
            return chosen
    return chosen + held[: k - len(chosen)]


def fuse(lists: list[list[Document]], weights: list[float], c: float) -> list[Document]:
    """Weighted reciprocal rank fusion (as LangChain's ``EnsembleRetriever.weighted_reciprocal_rank``,
    computed once): a document scores ``sum(weight / (rank + c))`` over the lists that hold it, ties
    kept in the order first met. Each document's ``metadata['score']`` is its fused score and it
    carries both retrievers' own scores, whichever list it came from.

    >>> a, b = (Document(page_content=x, id=x, metadata={"id": x}) for x in "ab")
    >>> [(d.page_content, round(d.metadata["score"], 4)) for d in fuse([[a, b], [b]], [0.5, 0.5], 60)]
    [('b', 0.0163), ('a', 0.0082)]
    """
    fused: dict[str, Document] = {}
    for weight, ranked in zip(weights, lists, strict=True):
        for rank, document in enumerate(ranked, start=1):
            key = document.metadata["id"]
            kept = fused.setdefault(
                key, document.model_copy(update={"metadata": {**document.metadata, "score": 0.0}})
            )
            kept.metadata["score"] += weight / (rank + c)
            for name in ("dense_score", "bm25_score"):
                if name in document.metadata:
                    kept.metadata[name] = document.metadata[name]
    return sorted(fused.values(), key=lambda document: document.metadata["score"], reverse=True)


class HybridRetriever(BaseRetriever):
    """The project's retrieval as one LangChain retriever: dense, BM25 or both fused
    (:func:`fuse`), demoted documents last, at most ``max_per_source`` passages of one document
    while others remain (hybrid). Each document's metadata holds its ``rank``, fused ``score``,
    ``dense_score`` and ``bm25_score``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    store: Any  # langchain_chroma.Chroma
    catalog: Any  # index.catalog.Catalog
    settings: Any  # core.settings.Settings
    k: int
    mode: str = "hybrid"
    sources: list[str] | None = None
    demoted: frozenset[str] = frozenset()
    excluded: list[str] = []

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        settings, mode = self.settings, self.mode
        fetch = max(settings.fetch_k, self.k)
        used: list[tuple[BaseRetriever, float]] = []
        if mode in ("hybrid", "dense"):
            dense = DenseRetriever(store=self.store, k=fetch, sources=self.sources, excluded=self.excluded)
            used.append((dense, settings.dense_weight if mode == "hybrid" else 1.0))
        if mode in ("hybrid", "bm25"):
            sparse = LexicalRetriever(
                catalog=self.catalog, k=fetch, sources=self.sources, excluded=self.excluded
            )
            used.append((sparse, settings.bm25_weight if mode == "hybrid" else 1.0))
        lists = [retriever.invoke(query) for retriever, _ in used]
        fused = fuse(lists, [weight for _, weight in used], settings.rrf_c)
        # A page that repeats the question's words, or tells the software what to answer, cannot
        # outrank one that answers it.
        if self.demoted:
            fused.sort(key=lambda document: document.metadata["source"] in self.demoted)  # stable
        chosen = diversify(fused, self.k, settings.max_per_source) if mode == "hybrid" else fused[: self.k]
        for rank, document in enumerate(chosen, 1):
            document.metadata["rank"] = rank
        return chosen


class Retriever:
    """The project's retrieval over one generation, returning ranked :class:`Passage` objects."""

    def __init__(
        self,
        store: Chroma,
        catalog: Catalog,
        settings: Settings,
        demoted: Collection[str] = (),
        excluded: Collection[str] = (),
    ) -> None:
        """``demoted``: documents whose passages rank after every other's (keyword-stuffed ones, and
        ones that speak to the software reading them);
        ``excluded``: documents never retrieved (changed since indexing and unreadable now)."""
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.demoted = frozenset(demoted)
        self.excluded = frozenset(excluded)

    def retrieve(
        self,
        query: str,
        *,
        top_k: int | None = None,
        sources: list[str] | None = None,
        mode: RetrievalMode | None = None,
    ) -> list[Passage]:
        """The ``top_k`` best passages for ``query``, optionally only from ``sources``."""
        if sources is not None and self.excluded:
            sources = [s for s in sources if s not in self.excluded]
            if not sources:
                return []
        retriever = HybridRetriever(
            store=self.store,
            catalog=self.catalog,
            settings=self.settings,
            k=top_k or self.settings.top_k,
            mode=mode or self.settings.retrieval_mode,
            sources=sources,
            demoted=self.demoted,
            excluded=sorted(self.excluded),
        )
        return [self._passage(document) for document in retriever.invoke(query)]

    @staticmethod
    def _passage(document: Document) -> Passage:
        meta = document.metadata
        return Passage(
            id=meta["id"],
            source=meta["source"],
            title=meta.get("title"),
            url=meta.get("url"),
            text=document.page_content,
            start=int(meta["start"]),
            end=int(meta["end"]),
            rank=meta["rank"],
            score=meta["score"],
            dense_score=meta.get("dense_score"),
            bm25_score=meta.get("bm25_score"),
        )
