"""The texts of a document an extractive answer compares with a question, computed when indexing
(their vectors are stored, so that at question time only the question is embedded), and the
spans metadata answers quote."""

from __future__ import annotations

import re

from index.metadata import DocumentMetadata
from index.sentences import split_sentences

MIN_SENTENCE_WORDS = 5


def line_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans of the whole lines (paragraphs) that hold ``text[start:end]``.

    >>> text = "A one. A two.\\nB one. B two."
    >>> [text[a:b] for a, b in line_sentences(text, 16, 20)]
    ['B one.', 'B two.']
    """
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return split_sentences(text, line_start, len(text) if line_end < 0 else line_end)


def compared_texts(text: str, source: str, metadata: DocumentMetadata) -> list[str]:
    """Every text of a document whose embedding an extractive answer may compare with a question:
    each sentence of ``MIN_SENTENCE_WORDS`` words or more, alone and read after the sentence before
    it (in its paragraph, or the last of the paragraph before: a passage may start at either), the
    document's description and the sentences its metadata answers quote. The index stores their vectors, so that at question time only the
    question is embedded (a text not stored is embedded then, and cached).

    >>> compared_texts("One two three four five.\\nSix seven eight nine ten.", "a.txt", DocumentMetadata())
    ['One two three four five.', 'Six seven eight nine ten.', 'One two three four five. Six seven eight nine ten.', 'a.txt']
    """
    found: list[str] = []
    previous = ""
    for line in re.finditer(r"[^\n]+", text):
        spans = split_sentences(text, line.start(), line.end())
        for i, (start, end) in enumerate(spans):
            sentence = text[start:end]
            before = text[spans[i - 1][0] : spans[i - 1][1]] if i > 0 else previous
            if len(sentence.split()) >= MIN_SENTENCE_WORDS:
                found.append(sentence)
                if i == 0 and previous:  # read after the paragraph before, and alone (no sentence before)
                    found.append(f"{previous} {sentence}")
                elif before:
                    found.append(f"{before} {sentence}")
        if spans:
            previous = text[spans[-1][0] : spans[-1][1]]
    found.append(describe(source, metadata))
    if text.strip():  # the sentences metadata answers quote, however short
        found += [text[a:b] for a, b in (field_quote(text, metadata, f) for f in metadata.fields())]
    return list(dict.fromkeys(found))


def field_quote(text: str, metadata: DocumentMetadata, field: str) -> tuple[int, int]:
    """The span a metadata answer quotes for ``field``: the sentence that states it; for a field
    from a sidecar, the title line, or the opening sentence of a document that has none."""
    start, end = metadata.spans.get(field) or metadata.spans.get("title") or split_sentences(text)[0]
    sentences = line_sentences(text, start, end)
    first = next((a for a, b in sentences if a <= start < b), start)
    last = next((b for a, b in sentences if a < end <= b), end)
    return first, last


def describe(source: str, metadata: DocumentMetadata) -> str:
    """What a question about a document's metadata is compared with: its fields, or its name."""
    return " ".join(metadata.fields().values()) or source
