"""Sentence boundaries as character spans, so that every piece of text keeps its offsets.

A rule-based splitter (no model to download): a sentence ends at a line break, or at ``.``, ``!``
or ``?`` (plus closing quotes or brackets) followed by white space and a capital, a digit or an
opening quote, unless the word before the full stop is a known abbreviation or a run of initials.

    >>> text = "U.S. officials spoke. Adm. Kirby said no.\\nNext line"
    >>> [text[s:e] for s, e in split_sentences(text)]
    ['U.S. officials spoke.', 'Adm. Kirby said no.', 'Next line']
"""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sen rep gov gen lt col maj capt sgt adm cmdr st jr sr no vs etc fig inc
    corp co ltd dept est approx jan feb mar apr jun jul aug sep sept oct nov dec
    """.split()  # noqa: SIM905 - a word list reads better as text
)
# Full stop, ! or ?, any closing quotes/brackets, then white space, then what may open a sentence.
_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]$")  # U.S, U.N, e.g, J


def _is_abbreviation(text: str, stop: int) -> bool:
    """Whether the full stop at ``text[stop]`` closes an abbreviation, not a sentence."""
    if text[stop] != ".":
        return False
    word_start = stop
    while word_start > 0 and not text[word_start - 1].isspace() and text[word_start - 1] not in '("“':
        word_start -= 1
    word = text[word_start:stop]
    return word.lower() in ABBREVIATIONS or bool(_INITIALS.fullmatch(word))


MAX_SENTENCE_CHARS = 1000  # the longest seed sentence has 518; a longer "sentence" is a run-on line


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans ``(s, e)`` of the sentences in ``text[start:end]``, offsets into ``text``, trimmed.
    None is longer than :data:`MAX_SENTENCE_CHARS`: a longer run (a line with no sentence end) is
    cut at white space, so that no quote or answer sentence can be longer."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        line_start = start + line.start()
        cursor = line_start
        line_end = start + line.end()
        for match in _END.finditer(text, line_start, line_end):
            if _is_abbreviation(text, match.start()):
                continue
            spans.append((cursor, match.end()))
            cursor = match.end()
        spans.append((cursor, line_end))
    trimmed = [t for s, e in spans if (t := _trim(text, s, e))[0] < t[1]]
    if all(e - s <= MAX_SENTENCE_CHARS for s, e in trimmed):
        return trimmed
    return [piece for s, e in trimmed for piece in _cut(text, s, e)]


def _cut(text: str, start: int, end: int, limit: int = MAX_SENTENCE_CHARS) -> list[tuple[int, int]]:
    """``text[start:end]`` in pieces of at most ``limit`` characters, each ending at the last white
    space (after a comma, semicolon or colon if one is in the second half) before the limit.

    >>> _cut("aaa bbb, cc dd", 0, 14, limit=10)
    [(0, 8), (9, 14)]
    """
    pieces = []
    while end - start > limit:
        window = text[start : start + limit + 1]
        half = limit // 2
        stop = max((window.rfind(p, half) + 1 for p in (", ", "; ", ": ")), default=0)
        if stop <= 0:
            stop = next((i for i in range(limit, half, -1) if window[i].isspace()), limit)
        piece = _trim(text, start, start + stop)
        if piece[0] < piece[1]:
            pieces.append(piece)
        start = _trim(text, start + stop, end)[0]
    pieces.append((start, end))
    return pieces


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
