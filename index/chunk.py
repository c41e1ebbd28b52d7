"""Sentence-aware chunks with character offsets into the original file.

A chunk is a run of whole sentences inside one kept region (see ``index.clean``), at most
``size`` characters unless a single sentence is longer (sentences are never cut). Consecutive
chunks share whole trailing sentences of up to ``overlap`` characters; a chunk with the same text
as an earlier one of the document (a page that repeats itself) is left out. For every chunk,
``document.text[chunk.start:chunk.end] == chunk.text``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from index.load import SeedDocument
from index.sentences import split_sentences

CHUNKER_VERSION = "sentences-3"  # bump when the cleaning or splitting rules change: the index must be rebuilt


@dataclass(frozen=True)
class Chunk:
    id: str
    source: str
    index: int
    start: int
    end: int
    text: str


def pack_sentences(spans: list[tuple[int, int]], size: int, overlap: int) -> list[tuple[int, int]]:
    """Group sentence spans into chunk spans of at most ``size`` chars sharing ``overlap``.

    >>> pack_sentences([(0, 4), (5, 9), (10, 14)], size=9, overlap=4)
    [(0, 9), (5, 14)]
    """
    chunks: list[tuple[int, int]] = []
    first = 0
    while first < len(spans):
        last = first
        while last + 1 < len(spans) and spans[last + 1][1] - spans[first][0] <= size:
            last += 1
        chunks.append((spans[first][0], spans[last][1]))
        if last + 1 >= len(spans):
            break
        # Start the next chunk with the trailing sentences that fit in the overlap, but move forward.
        next_first = last + 1
        while next_first - 1 > first and spans[last][1] - spans[next_first - 1][0] <= overlap:
            next_first -= 1
        first = next_first
    return chunks


def chunk_document(document: SeedDocument, size: int, overlap: int) -> list[Chunk]:
    """The chunks of one document, in reading order."""
    chunks: list[Chunk] = []
    seen: set[str] = set()  # a passage that repeats an earlier one of the document is indexed once
    for region_start, region_end in document.regions:
        spans = split_sentences(document.text, region_start, region_end)
        for start, end in pack_sentences(spans, size, overlap):
            text = document.text[start:end]
            key = " ".join(text.casefold().split())
            if key in seen:
                continue
            seen.add(key)
            digest = hashlib.sha1(f"{document.sha256}:{start}:{end}".encode()).hexdigest()[:12]
            chunks.append(
                Chunk(
                    f"{document.source}#{start}-{end}-{digest}",
                    document.source,
                    len(chunks),
                    start,
                    end,
                    text,
                )
            )
    return chunks
