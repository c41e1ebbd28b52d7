"""Find the passages most likely to answer a question: dense (Chroma), BM25 (SQLite FTS5), or both fused.

Hybrid retrieval runs both retrievers and fuses their rankings with LangChain's weighted reciprocal
rank fusion (``EnsembleRetriever.weighted_reciprocal_rank``), then keeps at most
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
from langchain_core.runnables import Runnable
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


class Retriever:
    """The project's retrieval, in one of three modes, returning ranked :class:`Passage` objects."""

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
        from langchain_classic.retrievers import EnsembleRetriever

        settings = self.settings
        k = top_k or settings.top_k
        mode = mode or settings.retrieval_mode
        fetch = max(settings.fetch_k, k)
        excluded = sorted(self.excluded)
        if sources is not None and excluded:
            sources = [s for s in sources if s not in self.excluded]
            if not sources:
                return []
        dense = DenseRetriever(store=self.store, k=fetch, sources=sources, excluded=excluded)
        sparse = LexicalRetriever(catalog=self.catalog, k=fetch, sources=sources, excluded=excluded)
        used: list[tuple[Runnable[str, list[Document]], float]] = []
        if mode in ("hybrid", "dense"):
            used.append((dense, settings.dense_weight if mode == "hybrid" else 1.0))
        if mode in ("hybrid", "bm25"):
            used.append((sparse, settings.bm25_weight if mode == "hybrid" else 1.0))
        lists = [retriever.invoke(query) for retriever, _ in used]
        weights = [weight for _, weight in used]
        fusion = EnsembleRetriever(
            retrievers=[retriever for retriever, _ in used], weights=weights, c=settings.rrf_c, id_key="id"
        )
        fused = fusion.weighted_reciprocal_rank(lists)
        # A page that repeats the question's words, or tells the software what to answer, cannot
        # outrank one that answers it.
        if self.demoted:
            fused.sort(key=lambda document: document.metadata["source"] in self.demoted)  # stable
        # Fused scores and both retrievers' own scores, whichever list a document came from.
        scores: dict[str, dict[str, float]] = {}
        for weight, ranked in zip(weights, lists, strict=True):
            for rank, document in enumerate(ranked, start=1):
                entry = scores.setdefault(document.metadata["id"], {"rrf": 0.0})
                entry["rrf"] += weight / (rank + settings.rrf_c)
                for key in ("dense_score", "bm25_score"):
                    if key in document.metadata:
                        entry[key] = document.metadata[key]
        chosen = diversify(fused, k, settings.max_per_source) if mode == "hybrid" else fused[:k]
        return [
            self._passage(document, rank, scores[document.metadata["id"]])
            for rank, document in enumerate(chosen, 1)
        ]

    @staticmethod
    def _passage(document: Document, rank: int, scores: dict[str, float]) -> Passage:
        meta = document.metadata
        return Passage(
            id=meta["id"],
            source=meta["source"],
            title=meta.get("title"),
            url=meta.get("url"),
            text=document.page_content,
            start=int(meta["start"]),
            end=int(meta["end"]),
            rank=rank,
            score=scores["rrf"],
            dense_score=scores.get("dense_score"),
            bm25_score=scores.get("bm25_score"),
        )
