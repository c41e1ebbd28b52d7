"""The catalog's lexical index and word table, on made-up chunks (no model, no Chroma)."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import pytest

import index.catalog as catalog_module
from core.lexical import terms
from index.catalog import Catalog, bm25_idf, tf_weight
from index.metadata import DocumentMetadata

WORDS = [
    "troops",
    "border",
    "convoy",
    "missile",
    "treaty",
    "summit",
    "drone",
    "artillery",
    "brigade",
    "officer",
    "ministry",
    "report",
]
WORDS += [f"word{n}" for n in range(300)]
WEIGHTS = [1 / (rank + 1) for rank in range(len(WORDS))]  # Zipf, as words in text are


def fill(path: Path, documents: int, seed: int = 3) -> Catalog:
    rng = random.Random(seed)
    catalog = Catalog(path, writable=True)
    for d in range(documents):
        chunks = []
        for c in range(5):
            text = " ".join(rng.choices(WORDS, WEIGHTS, k=rng.randint(5, 30))) + "."
            chunks.append((f"d{d}c{c}", c, c * 100, c * 100 + len(text), text, terms(text)))
        catalog.put_document(
            f"doc{d}.txt", f"sha{d}", " ".join(c[4] for c in chunks), DocumentMetadata(), chunks
        )
    catalog.seal()
    return catalog


def exhaustive(catalog: Catalog, query: list[str], k: int) -> list[str]:
    """BM25 over every chunk, the slow way, to compare with."""
    rows = catalog.db.execute("SELECT rowid, id, text FROM chunks").fetchall()
    ids = {rowid: i for rowid, i, _ in rows}
    counted = {rowid: Counter(terms(t)) for rowid, _, t in rows}
    average = sum(sum(c.values()) for c in counted.values()) / len(counted)
    frequency = {t: sum(1 for c in counted.values() if t in c) for t in query}
    scores = {
        i: sum(
            bm25_idf(len(counted), frequency[t]) * tf_weight(c[t], sum(c.values()), average)
            for t in query
            if c[t]
        )
        for i, c in counted.items()
    }
    return [ids[r] for r in sorted(scores, key=lambda r: (-scores[r], r)) if scores[r] > 0][:k]


def test_bm25_search_equals_the_exhaustive_ranking_when_every_posting_fits(tmp_path: Path) -> None:
    catalog = fill(tmp_path / "c.sqlite3", documents=20)
    for query in (["troop", "border"], ["missile"], ["treaty", "summit", "drone"]):
        found = [row["id"] for row, _ in catalog.search(query, 10)]
        assert found == exhaustive(catalog, query, 10)
    assert catalog.search(["nothing"], 5) == [] and catalog.search([], 5) == []


def test_bm25_search_reads_a_bounded_number_of_postings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each term's best-weighted postings only: a corpus ten times larger reads no more rows."""
    monkeypatch.setattr(catalog_module, "POSTINGS_READ", 20)
    read = []
    for documents in (20, 200):
        catalog = fill(tmp_path / f"c{documents}.sqlite3", documents=documents)
        traced: list[str] = []
        catalog.db.set_trace_callback(traced.append)
        catalog.search(["troop", "border"], 5)
        read.append(sum(1 for statement in traced if "LIMIT" in statement))
        top = [row["id"] for row, _ in catalog.search(["troop", "border"], 3)]
        assert top[0] == exhaustive(catalog, ["troop", "border"], 1)[0]  # the best one is not missed
    assert read[0] == read[1] == 2


def test_a_replaced_or_deleted_document_leaves_no_postings_or_words(tmp_path: Path) -> None:
    catalog = fill(tmp_path / "c.sqlite3", documents=3)
    text = "A unique zebra crossed the border."
    chunk = [("z0", 0, 0, len(text), text, terms(text))]
    catalog.put_document("doc1.txt", "new", text, DocumentMetadata(), chunk)
    assert catalog.document_frequency("zebra") == 1 and catalog.mentions("Zebra")
    assert [row["source"] for row, _ in catalog.search(["zebra"], 5)] == ["doc1.txt"]
    catalog.delete_document("doc1.txt")
    assert catalog.document_frequency("zebra") == 0 and not catalog.mentions("zebra")
    total = catalog.db.execute("SELECT sum(chunks) FROM vocabulary").fetchone()[0]
    assert total == catalog.db.execute("SELECT count(*) FROM postings").fetchone()[0]
    assert catalog.search(["zebra"], 5) == []


def test_mentions_matches_word_starts_and_figures(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c.sqlite3", writable=True)
    text = "Kyiv's intelligence counted 12,000 troops near Kursk (U.S. officials agreed)."
    catalog.put_document("a.txt", "x", text, DocumentMetadata(), [("a0", 0, 0, len(text), text, terms(text))])
    assert catalog.mentions("Kyiv") and catalog.mentions("12000") and catalog.mentions("12,000")
    assert catalog.mentions("kursk") and catalog.mentions("US")
    assert (
        not catalog.mentions("yiv")
        and not catalog.mentions("Seoul")
        and not math.isnan(catalog.average_length())
    )
