"""Text made safe to show on a terminal or a page: control characters made visible.

Seeds are indexed with their control characters replaced (``index.load``) and questions with one
are refused (``qa.request``); this is the last guard where text leaves the program, so that no
escape sequence from a document or a message ever reaches a terminal or a page raw.

    >>> visible("red \\x1b[31mtext\\x00 and a tab\\there")
    'red \\\\x1b[31mtext\\\\x00 and a tab\\there'
"""

from __future__ import annotations

import re

# The control characters text may not hold (Unicode's Cc but tab, line feed and carriage return):
# C0, DEL and C1 (U+009B is a one-character CSI on some terminals), as a regex character range.
# Questions holding one are refused (qa.request), seeds read them as spaces (index.load).
CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# ... and unpaired surrogates, which cannot be encoded (printing one raises).
_UNSAFE = re.compile(f"[{CONTROLS}\ud800-\udfff]")


def visible(text: str) -> str:
    """``text`` with each unsafe character written as its escape, e.g. ``\\x1b``."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
