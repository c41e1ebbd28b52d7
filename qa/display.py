"""Text made safe to show on a terminal or a page: control characters made visible.

Seeds are indexed with their control characters replaced (``index.load``) and questions with one
are refused (``qa.request``); this is the last guard where text leaves the program, so that no
escape sequence from a document or a message ever reaches a terminal or a page raw.

    >>> visible("red \\x1b[31mtext\\x00 and a tab\\there")
    'red \\\\x1b[31mtext\\\\x00 and a tab\\there'
"""

from __future__ import annotations

import re

# C0 controls but tab, line feed and carriage return; DEL; C1 controls (U+009B is a one-character
# CSI on some terminals); unpaired surrogates (they cannot be encoded, printing one raises).
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def visible(text: str) -> str:
    """``text`` with each unsafe character written as its escape, e.g. ``\\x1b``."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)

