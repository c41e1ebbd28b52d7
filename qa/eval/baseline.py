"""The baseline: question answering over the seeds as a LangChain tutorial would build it.

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
    store = Chroma(collection_name=..., embedding_function=embeddings, client=...)
    store.add_documents(splitter.create_documents(texts, metadatas))
    docs = store.similarity_search(question, k=4)
    answer = docs[0].page_content  # cited as [1]

It reads the raw seed files (no boilerplate removal, no sentence-aware chunks), uses the same
embedding model as the project, and keeps its own Chroma collection in its own folder (telemetry
off), named by a fingerprint of the chunks and the model so a re-run reuses it. It ignores the
conversation history and never refuses: a user who skipped this project would get exactly this.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.answer import REFUSAL
from qa.schema import Answer, AnswerSentence, Citation, Passage

if TYPE_CHECKING:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings

    from qa.followup import History

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
TOP_K = 4
COLLECTION_PREFIX = "baseline-"


class TutorialBaseline:
    """Recursive 1,000/200 chunks, Chroma dense top-4, the whole top chunk as the answer."""

    name = "baseline"

    def __init__(self, seeds_dir: Path, folder: Path, embeddings: Embeddings, model_id: str) -> None:
        self.seeds_dir = seeds_dir
        self.folder = folder
        self.embeddings = embeddings
        self.model_id = model_id
        self._store: Chroma | None = None
        self.chunks = 0

    def describe(self) -> dict[str, Any]:
        """What a reader needs to rebuild it."""
        return {
            "splitter": "langchain_text_splitters.RecursiveCharacterTextSplitter",
            "chunk_size": CHUNK_SIZE,
            "chunk_overlap": CHUNK_OVERLAP,
            "retrieval": "Chroma similarity_search (dense only)",
            "top_k": TOP_K,
            "answer": "the whole top chunk, cited as [1]; never refuses; ignores history",
            "embedding_model": self.model_id,
            "store": str(self.folder),
            "chunks": self.chunks,
        }

    def _documents(self) -> list[Document]:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        from index.load import load_seeds

        splitter = RecursiveCharacterTextSplitter(
            chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
        )
        loaded = load_seeds(self.seeds_dir)
        return splitter.create_documents(
            [d.text for d in loaded.documents], metadatas=[{"source": d.source} for d in loaded.documents]
        )

    def load(self) -> None:
        """Split the seeds and store their chunks, unless this very collection is already stored."""
        if self._store is not None:
            return
        os.environ["ANONYMIZED_TELEMETRY"] = "False"
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma

        documents = self._documents()
        fingerprint = hashlib.sha256(self.model_id.encode())
        for d in documents:
            fingerprint.update(
                f"{d.metadata['source']}:{d.metadata['start_index']}:{d.page_content}".encode()
            )
        name = COLLECTION_PREFIX + fingerprint.hexdigest()[:16]
        self.folder.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(
            path=str(self.folder), settings=ChromaSettings(anonymized_telemetry=False)
        )
        for stale in client.list_collections():
            stale_name = getattr(stale, "name", stale)
            if str(stale_name).startswith(COLLECTION_PREFIX) and stale_name != name:
                client.delete_collection(str(stale_name))
        store = Chroma(collection_name=name, embedding_function=self.embeddings, client=client)
        ids = [f"{d.metadata['source']}#{d.metadata['start_index']}" for d in documents]
        if len(store.get(include=[])["ids"]) != len(ids):
            store.reset_collection()
            store.add_documents(documents, ids=ids)
        self._store, self.chunks = store, len(documents)

    def retrieve(self, question: str, *, top_k: int | None = None) -> list[Passage]:
        """The ``top_k`` (default 4) chunks most similar to ``question``."""
        self.load()
        assert self._store is not None
        hits = self._store.similarity_search_with_score(question, k=top_k or TOP_K)
        passages = []
        for rank, (document, distance) in enumerate(hits, start=1):
            # Chroma's default space is squared L2; on normalised vectors cosine = 1 - distance / 2.
            relevance = 1.0 - float(distance) / 2
            start = int(document.metadata["start_index"])
            passages.append(
                Passage(
                    id=document.id or f"{document.metadata['source']}#{start}",
                    source=document.metadata["source"],
                    text=document.page_content,
                    start=start,
                    end=start + len(document.page_content),
                    rank=rank,
                    score=float(relevance),
                    dense_score=float(relevance),
                )
            )
        return passages

    def ask(self, question: str, history: History | None = None) -> Answer:
        """The top chunk, whole, as the answer; ``history`` is ignored, as a tutorial would."""
        passages = self.retrieve(question)
        if not passages:
            return Answer(question=question, text=REFUSAL, refused=True, answerer=self.name)
        top = passages[0]
        citation = Citation(
            n=1, source=top.source, quote=top.text, start=top.start, end=top.end, score=1.0, passage_id=top.id
        )
        return Answer(
            question=question,
            text=f"{top.text} [1]",
            citations=[citation],
            refused=False,
            sentences=[AnswerSentence(text=top.text, citations=[1], support=1.0)],
            passages=passages,
            answerer=self.name,
        )
