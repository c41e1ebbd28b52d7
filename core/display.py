"""Text made safe to show on a terminal or a page: control characters made visible.

Seeds are indexed with their control characters replaced (``index.load``) and questions with one
are refused (``qa.request``); this is the last guard where text leaves the program, so that no
escape sequence from a document or a message ever reaches a terminal or a page raw, and no
bidirectional override turns the text after it around (``report\\u202etxt.gpj.txt`` would read
"reportjpg.txt").

    >>> visible("red \\x1b[31mtext\\x00 and a tab\\there")
    'red \\\\x1b[31mtext\\\\x00 and a tab\\there'
    >>> visible("report\\u202etxt.gpj.txt")
    'report\\\\u202etxt.gpj.txt'

A name, or a message meant for one line, is shown with ``one_line``: its tabs and line breaks
escaped too, and the invisible direction marks, so that two names never look alike:

    >>> visible("new\\nline\\u200f.txt", one_line=True)
    'new\\\\nline\\\\u200f.txt'

It does not change what is stored: a catalog keeps a seed's real name, and links carry it
URL-quoted (``ui.render.doc_href``).
"""

from __future__ import annotations

import re

# The control characters text may not hold (Unicode's Cc but tab, line feed and carriage return):
# C0, DEL and C1 (U+009B is a one-character CSI on some terminals), as a regex character range.
# Questions holding one are refused (qa.request), seeds read them as spaces (index.load).
CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# The bidirectional embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI,
# PDI): each reorders the text after it, in a document's text as in a name.
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
# On one line also: tab, line feed, carriage return, the line and paragraph separators, and the
# invisible marks (ALM, LRM, RLM, zero width space, word joiner, BOM) that a name should not hide.
LINE_CONTROLS = "\t\n\r\u2028\u2029\u061c\u200b\u200e\u200f\u2060\ufeff"
# ... and unpaired surrogates, which cannot be encoded (printing one raises).
_UNSAFE = re.compile(f"[{CONTROLS}{BIDI_CONTROLS}\ud800-\udfff]")
_UNSAFE_ON_ONE_LINE = re.compile(f"[{CONTROLS}{BIDI_CONTROLS}{LINE_CONTROLS}\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def visible(text: str, *, one_line: bool = False) -> str:
    """``text`` with each unsafe character written as its escape, e.g. ``\\x1b``, ``\\u202e``;
    with ``one_line`` (a file name, a one-line message) its line breaks and tabs too (``\\n``)."""
    return (_UNSAFE_ON_ONE_LINE if one_line else _UNSAFE).sub(_escape, text)
