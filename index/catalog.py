"""The catalog of one index generation: a SQLite file beside its vectors.

It holds what the answering side reads besides the chunk vectors, so that nothing has to be read
whole or computed from the corpus when a process starts or a question comes in:

- ``meta``: the manifest (format, embedding model, chunking, when built);
- ``documents``: per document its exact text as indexed, content hash, metadata and chunk count;
  updated one row per document (no file rewritten whole);
- ``chunks``, ``postings`` and ``vocabulary``: an inverted index of the chunks' content words
  (``core.lexical.terms``) for BM25, each term's postings kept in order of their term-frequency
  weight, so that a search reads at most ``POSTINGS_READ`` postings per question term and scores
  those chunks exactly: its cost does not grow with the corpus (see :meth:`Catalog.search`);
- ``words``: every folded word start of the documents, with how many documents have it, for
  "does any document mention X";
- ``vectors`` (+ ``refs``): the embedding of every sentence an answer may compare with the
  question (alone and with the sentence before it) and of every document's description, keyed
  by a hash of the text, so that only the question is embedded at question time.

A published generation is never written again: readers open it read-only (``immutable``, which
also works on a read-only folder). Whatever SQLite says when reading one (a file truncated,
overwritten, "no such table", "database disk image is malformed") leaves as ``IndexCorruptError``,
which the pipeline heals by rebuilding from the seeds; a catalog being built keeps SQLite's own
errors, which the build turns into its own (a full disk is not a damaged index).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import re
import sqlite3
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from core.errors import IndexCorruptError
from core.lexical import fold
from index.metadata import DocumentMetadata

CATALOG_NAME = "catalog.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    source TEXT PRIMARY KEY, sha256 TEXT NOT NULL, chars INTEGER NOT NULL, chunks INTEGER NOT NULL,
    metadata TEXT NOT NULL, title TEXT, url TEXT, text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, source TEXT NOT NULL,
    chunk_index INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL,
    length INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
CREATE TABLE IF NOT EXISTS postings (term TEXT NOT NULL, chunk INTEGER NOT NULL, tf INTEGER NOT NULL,
    weight REAL NOT NULL);
CREATE INDEX IF NOT EXISTS postings_by_chunk ON postings(chunk);
CREATE TABLE IF NOT EXISTS vocabulary (term TEXT PRIMARY KEY, chunks INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS words (word TEXT PRIMARY KEY, documents INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vectors (key BLOB NOT NULL UNIQUE, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS refs (source TEXT NOT NULL, key BLOB NOT NULL, PRIMARY KEY (source, key))
    WITHOUT ROWID;
"""
_WORD_START = re.compile(r"(?<!\w)\w\S*")


def text_key(text: str) -> bytes:
    """The key of a text's stored vector."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


# BM25 (Okapi, with Lucene's non-negative idf): the usual constants.
K1, B = 1.2, 0.75
# Postings read per question term, best weight first; the chunks they name are scored exactly.
POSTINGS_READ = 400
# The chunk length (in terms) that orders a term's postings; the exact score uses the real average.
REFERENCE_LENGTH = 50


def tf_weight(tf: int, length: int, average: float) -> float:
    """BM25's saturating term-frequency part."""
    return tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / (average or 1.0)))


def bm25_idf(chunks: int, containing: int) -> float:
    return math.log((chunks - containing + 0.5) / (containing + 0.5) + 1)


def folded_words(text: str) -> set[str]:
    """Each word start of ``text`` to the next space, folded, without ``,`` and ``.`` (``12,000`` is
    ``12000``): what :meth:`Catalog.mentions` looks a word up in, by prefix."""
    folded = fold(text).replace(",", "").replace(".", "")
    return {match.group()[:64] for match in _WORD_START.finditer(folded)}


def pack(vector: Iterable[float]) -> bytes:
    return array("f", vector).tobytes()


def unpack(blob: bytes) -> list[float]:
    values = array("f")
    values.frombytes(blob)
    return values.tolist()


Read = TypeVar("Read", bound=Callable[..., Any])


def _reads(method: Read) -> Read:
    """``method`` of a published (read-only) catalog, SQLite's errors and unreadable rows turned
    into ``IndexCorruptError``: a damaged file must be healed, not reported as an internal error."""

    @functools.wraps(method)
    def read(self: Catalog, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, ValueError) as error:  # ValueError: a row's JSON or metadata unreadable
            if self.writable:
                raise  # a build's own: a full disk, say (index.build reports it)
            raise self.damaged(error) from error

    return read  # type: ignore[return-value]


class Catalog:
    """One generation's catalog file. Writable while its generation is being built, read-only after."""

    def __init__(self, path: Path, *, writable: bool = False) -> None:
        self.path = path
        self.writable = writable
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._chunks: int | None = None
        self._average: float | None = None
        if writable:
            db = self._connect()
            try:
                db.executescript(SCHEMA)
                # Rebuilt whole by seal(): kept up to date row by row, it made a 100k-chunk build
                # seven times slower (postings go in all over it).
                db.execute("DROP INDEX IF EXISTS postings_by_weight")
            finally:
                db.close()

    # --- connections: one per thread

    def _connect(self) -> sqlite3.Connection:
        if self.writable:
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA journal_mode=DELETE")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA cache_size=-262144")  # 256 MB: postings go in by term, all over the tree
        else:
            uri = f"file:{self.path}?mode=ro&immutable=1"
            db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        return db

    @property
    def db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
            with self._opened_lock:
                self._opened.append(db)
        return db

    def close(self) -> None:
        """Close the connections of every thread (a thread that reads again opens a new one)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for db in opened:
            db.close()
        self._local = threading.local()

    def damaged(self, error: BaseException) -> IndexCorruptError:
        """The error for this catalog found unreadable (SQLite's text cut short: it may quote a row)."""
        text = " ".join(str(error).split())
        text = text if len(text) <= 160 else text[:157] + "..."
        return IndexCorruptError(
            f"The index catalog {self.path} cannot be read ({type(error).__name__}: {text}); "
            "run `python -m index build`, which rebuilds a damaged index"
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction: all of the block's changes, or none of them."""
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- the manifest

    def set_meta(self, values: dict[str, Any]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
            [(k, json.dumps(v)) for k, v in values.items()],
        )

    @_reads
    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    # --- documents

    @_reads
    def sources(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT source FROM documents ORDER BY source")]

    @_reads
    def chunk_count(self) -> int:
        if self._chunks is not None:
            return self._chunks
        count = int(self.db.execute("SELECT count(*) FROM chunks").fetchone()[0])
        if not self.writable:  # a published generation never changes
            self._chunks = count
        return count

    @_reads
    def text(self, source: str) -> str | None:
        row = self.db.execute("SELECT text FROM documents WHERE source = ?", (source,)).fetchone()
        return None if row is None else str(row[0])

    @_reads
    def metadata(self, source: str) -> DocumentMetadata | None:
        row = self.db.execute("SELECT metadata FROM documents WHERE source = ?", (source,)).fetchone()
        return None if row is None else DocumentMetadata.model_validate_json(row[0])

    @_reads
    def records(self) -> list[tuple[str, str, int, int, DocumentMetadata]]:
        """``(source, sha256, chars, chunks, metadata)`` of every document, by name."""
        return [
            (source, sha, chars, chunks, DocumentMetadata.model_validate_json(meta))
            for source, sha, chars, chunks, meta in self.db.execute(
                "SELECT source, sha256, chars, chunks, metadata FROM documents ORDER BY source"
            )
        ]

    @_reads
    def stuffed(self, above: float) -> list[str]:
        """The documents whose ``keyword_share`` is above ``above`` (keyword-stuffed)."""
        query = (
            "SELECT source FROM documents WHERE json_extract(metadata, '$.keyword_share') > ? ORDER BY source"
        )
        return [row[0] for row in self.db.execute(query, (above,))]

    @_reads
    def addressing(self, above: float) -> list[str]:
        """The documents more than ``above`` of whose sentences speak to the software reading them
        (``addressed_share``, :mod:`index.injection`)."""
        query = (
            "SELECT source FROM documents WHERE json_extract(metadata, '$.addressed_sentences') > 0 "
            "AND json_extract(metadata, '$.addressed_share') > ? ORDER BY source"
        )
        return [row[0] for row in self.db.execute(query, (above,))]

    @_reads
    def hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT source, sha256 FROM documents"))

    @_reads
    def chunk_ids(self, source: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE source = ?", (source,))]

    def put_document(
        self,
        source: str,
        sha256: str,
        text: str,
        metadata: DocumentMetadata,
        chunks: list[tuple[str, int, int, int, str, list[str]]],
    ) -> None:
        """Add or replace one document: ``chunks`` are ``(id, index, start, end, text, terms)``."""
        db = self.db
        with self._transaction():
            self._delete(source)
            db.execute(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    source,
                    sha256,
                    len(text),
                    len(chunks),
                    metadata.model_dump_json(),
                    metadata.title,
                    metadata.url,
                    text,
                ),
            )
            for chunk_id, index, start, end, chunk_text, terms in chunks:
                cursor = db.execute(
                    'INSERT INTO chunks(id, source, chunk_index, start, "end", text, length) '
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (chunk_id, source, index, start, end, chunk_text, len(terms)),
                )
                counts = Counter(terms)
                db.executemany(
                    "INSERT INTO postings(term, chunk, tf, weight) VALUES (?, ?, ?, ?)",
                    [
                        (term, cursor.lastrowid, tf, tf_weight(tf, len(terms), REFERENCE_LENGTH))
                        for term, tf in counts.items()
                    ],
                )
                db.executemany(
                    "INSERT INTO vocabulary(term, chunks) VALUES (?, 1) "
                    "ON CONFLICT(term) DO UPDATE SET chunks = chunks + 1",
                    [(term,) for term in counts],
                )
            db.executemany(
                "INSERT INTO words(word, documents) VALUES (?, 1) "
                "ON CONFLICT(word) DO UPDATE SET documents = documents + 1",
                [(w,) for w in folded_words(text)],
            )

    def delete_document(self, source: str) -> None:
        with self._transaction():
            self._delete(source)

    def _delete(self, source: str) -> None:
        db = self.db
        chunk_rows = "SELECT rowid FROM chunks WHERE source = ?"
        db.execute(  # each term of the document's chunks is in that many chunks fewer
            "UPDATE vocabulary SET chunks = chunks - (SELECT count(*) FROM postings p WHERE p.term = "
            f"vocabulary.term AND p.chunk IN ({chunk_rows})) WHERE term IN "
            f"(SELECT term FROM postings WHERE chunk IN ({chunk_rows}))",
            (source, source),
        )
        db.execute("DELETE FROM vocabulary WHERE chunks <= 0")
        db.execute(f"DELETE FROM postings WHERE chunk IN ({chunk_rows})", (source,))
        db.execute("DELETE FROM chunks WHERE source = ?", (source,))
        old = db.execute("SELECT text FROM documents WHERE source = ?", (source,)).fetchone()
        if old is not None:  # each of its words is in one document fewer
            db.executemany(
                "UPDATE words SET documents = documents - 1 WHERE word = ?",
                [(w,) for w in folded_words(old[0])],
            )
            db.execute("DELETE FROM words WHERE documents <= 0")
        db.execute("DELETE FROM refs WHERE source = ?", (source,))
        db.execute("DELETE FROM documents WHERE source = ?", (source,))

    # --- lexical search

    @_reads
    def search(
        self, terms: list[str], k: int, sources: list[str] | None = None, excluded: list[str] | None = None
    ) -> list[tuple[dict[str, Any], float]]:
        """The ``k`` best chunks for ``terms`` by BM25, as
        ``({id, text, source, chunk_index, start, end, title, url}, score)``; only from
        ``sources`` when given, never from ``excluded``.

        Each term's ``POSTINGS_READ`` best-weighted postings are read (the whole list of a rarer
        term) and scored; when a term has more, the ``4 k`` best chunks are scored again exactly
        on every term. A chunk among no term's best postings is missed: the price of a search
        whose cost does not grow with the corpus (``tests/test_catalog.py`` compares it with an
        exhaustive BM25)."""
        wanted = list(dict.fromkeys(t for t in terms if t))
        if not wanted:
            return []
        only, only_args = "", []
        if sources:
            only = (
                f" AND chunk IN (SELECT rowid FROM chunks WHERE source IN ({','.join('?' * len(sources))}))"
            )
            only_args = list(sources)
        elif excluded:
            only = f" AND chunk NOT IN (SELECT rowid FROM chunks WHERE source IN ({','.join('?' * len(excluded))}))"
            only_args = list(excluded)
        chunks, average = self.chunk_count(), self.average_length()
        scores: dict[int, float] = {}
        lengths: dict[int, int] = {}
        partial: list[str] = []  # terms with more postings than were read
        for term in wanted:
            frequency = self.document_frequency(term)
            if not frequency:
                continue
            idf = bm25_idf(chunks, frequency)
            if frequency > POSTINGS_READ:
                partial.append(term)
            for chunk, tf, length in self.db.execute(
                "SELECT p.chunk, p.tf, c.length FROM postings p JOIN chunks c ON c.rowid = p.chunk "
                f"WHERE p.term = ?{only} ORDER BY p.weight DESC LIMIT ?",
                [term, *only_args, POSTINGS_READ],
            ):
                scores[chunk] = scores.get(chunk, 0.0) + idf * tf_weight(tf, length, average)
                lengths[chunk] = length
        if not scores:
            return []
        if partial:  # the shortlist is scored again on every term, postings not read above included
            shortlist = sorted(scores, key=lambda c: (-scores[c], c))[: 4 * k]
            exact = dict.fromkeys(shortlist, 0.0)
            rows = self.db.execute(
                # "+term": found through the chunks' index, not by reading every posting of the terms
                f"SELECT term, chunk, tf FROM postings WHERE chunk IN ({','.join('?' * len(shortlist))}) "
                f"AND +term IN ({','.join('?' * len(wanted))})",
                [*shortlist, *wanted],
            )
            frequencies = {t: self.document_frequency(t) for t in wanted}
            for term, chunk, tf in rows:
                exact[chunk] += bm25_idf(chunks, frequencies[term]) * tf_weight(tf, lengths[chunk], average)
            scores = exact
        best = sorted(scores, key=lambda c: (-scores[c], c))[:k]
        names = ("id", "text", "source", "chunk_index", "start", "end", "title", "url")
        found = {
            row[0]: {n: v for n, v in zip(names, row[1:], strict=True) if v is not None}
            for row in self.db.execute(
                'SELECT c.rowid, c.id, c.text, c.source, c.chunk_index, c.start, c."end", d.title, d.url FROM chunks c '
                f"JOIN documents d ON d.source = c.source WHERE c.rowid IN ({','.join('?' * len(best))})",
                best,
            )
        }
        return [(found[c], scores[c]) for c in best if scores[c] > 0]

    @_reads
    def document_frequency(self, term: str) -> int:
        """How many chunks hold ``term``."""
        row = self.db.execute("SELECT chunks FROM vocabulary WHERE term = ?", (term,)).fetchone()
        return int(row[0]) if row else 0

    @_reads
    def average_length(self) -> float:
        """The average number of terms in a chunk (stored in ``meta`` when a generation is built)."""
        if self._average is None or self.writable:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'average_length'").fetchone()
            if row is not None and not self.writable:
                self._average = float(json.loads(row[0]))
            else:
                self._average = float(self.db.execute("SELECT avg(length) FROM chunks").fetchone()[0] or 0.0)
        return self._average

    def seal(self) -> None:
        """Make the generation ready to publish: each term's postings ordered by weight (a
        covering index, built in one sort), and what readers would otherwise compute from every
        chunk stored."""
        self.db.execute(
            "CREATE INDEX IF NOT EXISTS postings_by_weight ON postings(term, weight DESC, chunk, tf)"
        )
        self.set_meta({"average_length": self.average_length()})

    @_reads
    def mentions(self, word: str) -> bool:
        """Whether a document has a word starting with ``word`` (folded, as :func:`folded_words`)."""
        needle = fold(word).replace(",", "").replace(".", "")[:64]
        if not needle:
            return False
        row = self.db.execute(
            "SELECT 1 FROM words WHERE word >= ? AND word < ? LIMIT 1", (needle, needle + "\U0010ffff")
        ).fetchone()
        return row is not None

    # --- stored vectors

    @_reads
    def vectors(self, keys: list[bytes]) -> dict[bytes, list[float]]:
        found: dict[bytes, list[float]] = {}
        for first in range(0, len(keys), 500):
            part = keys[first : first + 500]
            for key, blob in self.db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
            ):
                found[bytes(key)] = unpack(blob)
        return found

    def put_vectors(self, source: str, vectors: dict[bytes, list[float]], keys: Iterable[bytes]) -> None:
        """Store ``vectors`` and note that ``source`` uses ``keys`` (some stored already)."""
        db = self.db
        with self._transaction():
            db.executemany(
                "INSERT OR IGNORE INTO vectors(key, vector) VALUES (?, ?)",
                [(k, pack(v)) for k, v in vectors.items()],
            )
            db.executemany(
                "INSERT OR IGNORE INTO refs(source, key) VALUES (?, ?)", [(source, k) for k in keys]
            )

    def prune_vectors(self) -> None:
        """Drop vectors no document uses any more."""
        self.db.execute("DELETE FROM vectors WHERE key NOT IN (SELECT key FROM refs)")

    def check(self) -> str | None:
        """Why this file is not a sound catalog, or ``None``."""
        try:
            result = self.db.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":  # SQLite lists every damaged page: the first few say enough
                result = " ".join(str(result).split())
                return f"integrity check: {result if len(result) <= 300 else result[:297] + '...'}"
            self.db.execute("SELECT count(*) FROM documents").fetchone()
        except sqlite3.Error as error:
            return f"{type(error).__name__}: {error}"
        return None
