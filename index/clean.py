"""Find web-page boilerplate in a seed as spans to skip, without ever changing the text.

Cleaning returns the *kept regions* of the original text: ``text[start:end]`` runs of lines with
no boilerplate between them. Chunks are cut inside kept regions, so every chunk is still an exact
slice of the original file. The rules are general (they name no site or article):

- separator lines (``|``, ``-``) and lone page words (``Print``, ``Share``, ``Leave a Comment``);
- bylines (``Posted on …``, ``by …``) and photo credits (``(Photo: …)``);
- newsletter, subscription and affiliate notices;
- a line repeating an earlier one (a title shown twice, a lead paragraph repeated verbatim);
- link lists under a heading (``Topics``, ``More from …``, ``Further Reading …``, ``Related …``);
- syndication footers (``The post … appeared first on …``, ``URL : https://…``).

    >>> text = "Troops Sent East\\nTroops Sent East\\n|\\nBody one.\\nMore from Site\\nA link - Site - 2 days ago"
    >>> [text[s:e] for s, e in kept_regions(text)]
    ['Troops Sent East', 'Body one.']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEPARATOR = re.compile(r"[\s|\-–—•·*_=]+")
_PAGE_WORDS = re.compile(
    r"(print|share|share this|tweet|email|comments?|leave a comment|advertisement|"
    r"read more|subscribe|skip to content|back to top|listen to this article)\W*",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"(posted on|published on|updated on|by)\b.{0,80}", re.IGNORECASE)
_PHOTO = re.compile(r"\((photo|image|picture|credit)s?\s*:[^)]*\)|^(photo|image)\s*:", re.IGNORECASE)
_NOTICE = re.compile(
    r"newsletter|sign up for|subscribe to|affiliate link|receive a commission|"
    r"unlock this article|support our journalism",
    re.IGNORECASE,
)
_LINK_LIST_HEADING = re.compile(
    r"(topics|tags|related( articles| stories| posts| content)?|more from\b.*|further reading\b.*|"
    r"read more\b.*|recommended\b.*|you may also like\b.*|most popular|trending( now)?)\s*:?",
    re.IGNORECASE,
)
_FOOTER = re.compile(
    r"(the post .+ appeared first on .+|url\s*:\s*https?://\S+|https?://\S+|"
    r"you can read the original article at .+|originally published .+)",
    re.IGNORECASE,
)

MAX_NOTICE_CHARS = 300  # a notice is a line or two; a paragraph that mentions a newsletter is content
MAX_LIST_ITEM_CHARS = 160


@dataclass(frozen=True)
class Removed:
    """A span of the original text that cleaning skips, and the rule that skipped it."""

    start: int
    end: int
    rule: str


def _lines(text: str) -> list[tuple[int, int]]:
    """Spans of the non-blank lines, trimmed."""
    spans = []
    for match in re.finditer(r"[^\n]+", text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            spans.append((start, end))
    return spans


_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


def _normalise(line: str) -> str:
    """Case, white space and typographic quotes folded: a repeat may differ in those only."""
    return re.sub(r"\s+", " ", line.translate(_QUOTES)).strip().casefold()


def _is_list_item(line: str) -> bool:
    """A link-list entry: short and not a sentence of prose."""
    if _SEPARATOR.fullmatch(line):
        return True
    if len(line) > MAX_LIST_ITEM_CHARS:
        return False
    # Headlines may end in "?" but rarely in a full stop; "Section - Site - date -" rows have dashes.
    return not line.endswith(".") or " - " in line


def line_rule(line: str) -> str | None:
    """The rule that makes one line boilerplate on its own, or ``None`` for content.

    >>> line_rule("|"), line_rule("Print"), line_rule("by Outside Contributor"), line_rule("Kim spoke.")
    ('separator', 'page-word', 'byline', None)
    """
    if _SEPARATOR.fullmatch(line):
        return "separator"
    if _PAGE_WORDS.fullmatch(line):
        return "page-word"
    if _BYLINE.fullmatch(line) and not line.rstrip().endswith("."):
        return "byline"
    if _PHOTO.search(line) and len(line) <= MAX_NOTICE_CHARS:
        return "photo-credit"
    if _NOTICE.search(line) and len(line) <= MAX_NOTICE_CHARS:
        return "notice"
    if _FOOTER.fullmatch(line):
        return "footer"
    if re.search(r"you can read the original article at", line, re.IGNORECASE):
        return "footer"
    return None


def boilerplate(text: str, title: str | None = None) -> list[Removed]:
    """Every boilerplate line of ``text``, in order. A line that is the ``title`` is skipped too:
    the title is metadata, shown with every citation, not a sentence to answer with."""
    removed: list[Removed] = []
    seen: set[str] = set()
    lines = _lines(text)
    i = 0
    while i < len(lines):
        start, end = lines[i]
        line = text[start:end]
        key = _normalise(line)
        rule = line_rule(line)
        if rule is None and title and key == _normalise(title):
            rule = "title"
        if rule is None and key in seen and len(key) > 15:
            rule = "repeat"
        if rule is None and _LINK_LIST_HEADING.fullmatch(line):
            # The heading and the list under it, up to the first line of prose.
            j = i + 1
            while j < len(lines) and _is_list_item(text[lines[j][0] : lines[j][1]]):
                j += 1
            if j > i + 1 or j == len(lines):
                removed.append(Removed(start, lines[j - 1][1], "link-list"))
                i = j
                continue
        if rule is not None:
            removed.append(Removed(start, end, rule))
        seen.add(key)
        i += 1
    return removed


def kept_regions(text: str, title: str | None = None) -> list[tuple[int, int]]:
    """Maximal runs of content lines with no boilerplate between them, as ``(start, end)``."""
    removed = boilerplate(text, title)
    regions: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for start, end in _lines(text):
        if any(cut.start <= start < cut.end for cut in removed):
            if current is not None:
                regions.append(current)
            current = None
        else:
            current = (current[0], end) if current is not None else (start, end)
    if current is not None:
        regions.append(current)
    return regions
