"""Document metadata found in a seed's own text, each field with the span that states it.

Fields: title, author, publisher, date (ISO ``YYYY-MM-DD``), url. Every field found in the text
keeps ``spans[field] = (start, end)`` so that a metadata answer can cite the exact words. A sidecar
``NAME.meta.json`` beside the seed (``NAME`` the file name with or without its extension) overrides
or adds fields; those have no span.

    >>> meta = extract_metadata("Big News\\nPosted on Friday, July 5, 2024\\nBody.\\nURL : https://x.org/a")
    >>> meta.title, meta.date, meta.url
    ('Big News', '2024-07-05', 'https://x.org/a')
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from core.errors import SeedError

FIELDS = ("title", "author", "publisher", "date", "url")
MAX_TITLE_CHARS = 200
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_NAME = r"[A-Z][a-zA-Z'’.-]+(?: [A-Z][a-zA-Z'’.-]+){1,3}"

_POST_FOOTER = re.compile(r"^The post (?P<title>.+?) appeared first on (?P<publisher>.+?)\.?$", re.M)
_URL = re.compile(r"^URL\s*:\s*(?P<url>https?://\S+)", re.M | re.I)
_BARE_URL = re.compile(r"^(?P<url>https?://\S+)\s*$", re.M)
_DATE = re.compile(
    rf"^(?:Posted|Published|Updated)(?: on)?:?\s+(?:[A-Z][a-z]+day,?\s+)?"
    rf"(?P<date>(?:{_MONTHS})\s+\d{{1,2}},?\s+\d{{4}})",
    re.M,
)
_BY_NAME = re.compile(rf"\bBy[\s\xa0]+(?P<author>{_NAME})\s*$", re.M)
_BIO = re.compile(
    rf"^(?P<author>{_NAME}) (?:is|was|served as|has been|writes)\b[^\n]{{0,400}}"
    r"(?:professor|columnist|fellow|director|editor|correspondent|reporter|journalist|writer|"
    r"analyst|researcher|author|scholar|served as)",
    re.M,
)
_BYLINE = re.compile(r"^by\s+(?:·\s*)?(?P<author>[^\n|]{2,60}?)\s*$", re.M | re.I)
_PUBLISHER = [
    re.compile(r"^You can read the original article at[\s\xa0]+(?P<publisher>[^.\n]+)", re.M),
    re.compile(r"^More from (?P<publisher>[^\n]{2,60}?)\s*$", re.M),
    re.compile(r"^Further Reading on (?P<publisher>[^\n]{2,60}?)\s*$", re.M),
]


class DocumentMetadata(BaseModel):
    """What is known about one seed document."""

    title: str | None = None
    author: str | None = None
    publisher: str | None = None
    date: str | None = None
    url: str | None = None
    spans: dict[str, tuple[int, int]] = Field(default_factory=dict)
    keyword_share: float = Field(
        default=0.0,
        description="Share of its content words that repeat its five most frequent ones "
        "(index.clean.keyword_share): above Settings.max_keyword_share it reads as keyword-stuffed",
    )
    addressed_sentences: int = Field(
        default=0,
        description="How many of its sentences speak to the software reading it (planted instructions: "
        "index.injection.addressed); they are never an answer",
    )
    addressed_share: float = Field(
        default=0.0,
        description="Their share of its sentences: above Settings.max_addressed_share its passages rank "
        "after every other document's",
    )

    def addressing_note(self, max_share: float, *, short: bool = False) -> str | None:
        """What to tell a person about a document that speaks to the software reading it (``None``
        when it does not); ``max_share`` is ``Settings.max_addressed_share``.

        >>> DocumentMetadata(addressed_sentences=2, addressed_share=0.25).addressing_note(0.0, short=True)
        'speaks to the software that reads it (2 sentences addressed to an AI): never quoted, ranked last'
        """
        count = self.addressed_sentences
        if not count:
            return None
        demoted = self.addressed_share > max_share
        if short:
            sentences = f"{count} sentence{'s' if count > 1 else ''} addressed to an AI"
            return f"speaks to the software that reads it ({sentences}): never quoted" + (
                ", ranked last" if demoted else ""
            )
        note = (
            f"speaks to the software that reads it: {count} of its sentences ({self.addressed_share:.0%}) "
            "give instructions to an AI or assistant instead of informing a reader; they are never quoted "
            "as an answer"
        )
        return note + (", and its passages rank after every other document's" if demoted else "")

    def fields(self) -> dict[str, str]:
        """The fields that are set, by name."""
        return {name: value for name in FIELDS if (value := getattr(self, name))}


def _set(meta: DocumentMetadata, field: str, match: re.Match[str], group: str) -> None:
    if getattr(meta, field) is None:
        setattr(meta, field, match.group(group).strip())
        meta.spans[field] = (match.start(group), match.start(group) + len(match.group(group).strip()))


def _title_line(text: str) -> tuple[int, int] | None:
    """The first short line that reads like a headline: no photo credit, no final full stop."""
    for match in re.finditer(r"[^\n]+", text[:2000]):
        line = match.group().strip()
        if not line or re.search(r"\((photo|image|credit)", line, re.I):
            continue
        if len(line) <= MAX_TITLE_CHARS and not line.endswith("."):
            offset = match.start() + match.group().index(line)
            return offset, offset + len(line)
        return None  # the text opens with prose: no title line
    return None


def _iso_date(text: str) -> str | None:
    for fmt in ("%B %d, %Y", "%B %d %Y"):
        try:
            return datetime.strptime(re.sub(r"\s+", " ", text), fmt).date().isoformat()
        except ValueError:
            continue
    return None


def extract_metadata(text: str) -> DocumentMetadata:
    """Title, author, publisher, date and URL as the text states them, where it does."""
    meta = DocumentMetadata()
    if footer := _POST_FOOTER.search(text):
        _set(meta, "title", footer, "title")
        _set(meta, "publisher", footer, "publisher")
    if meta.title is None and (span := _title_line(text)):
        meta.title, meta.spans["title"] = text[span[0] : span[1]], span
    for pattern in (_URL, _BARE_URL):
        if match := pattern.search(text):
            _set(meta, "url", match, "url")
    if match := _DATE.search(text):
        iso = _iso_date(match.group("date"))
        if iso:
            meta.date, meta.spans["date"] = iso, (match.start("date"), match.end("date"))
    for pattern in (_BY_NAME, _BIO):
        if match := pattern.search(text):
            _set(meta, "author", match, "author")
    for byline in _BYLINE.finditer(text):
        # "by · India Today" names a publisher; "by Outside Contributor" a (generic) author.
        if "·" in text[byline.start() : byline.start("author")]:
            _set(meta, "publisher", byline, "author")
        else:
            _set(meta, "author", byline, "author")
    for pattern in _PUBLISHER:
        if match := pattern.search(text):
            _set(meta, "publisher", match, "publisher")
    return meta


def sidecar_path(seed: Path) -> Path | None:
    """The ``.meta.json`` file beside ``seed``, if there is one."""
    for candidate in (seed.with_name(seed.stem + ".meta.json"), seed.with_name(seed.name + ".meta.json")):
        if candidate.is_file():
            return candidate
    return None


def apply_sidecar(meta: DocumentMetadata, seed: Path) -> DocumentMetadata:
    """``meta`` with the fields of the seed's sidecar file laid over it (they lose their spans)."""
    path = sidecar_path(seed)
    if path is None:
        return meta
    try:
        extra = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SeedError(f"{path.name}: cannot read the metadata sidecar ({error})") from error
    if not isinstance(extra, dict) or not all(isinstance(v, str | None) for v in extra.values()):
        raise SeedError(f"{path.name}: a metadata sidecar must be a JSON object of strings")
    unknown = set(extra) - set(FIELDS)
    if unknown:
        raise SeedError(f"{path.name}: unknown metadata fields {sorted(unknown)}; known: {list(FIELDS)}")
    updated = meta.model_copy(deep=True)
    for name, value in extra.items():
        setattr(updated, name, value)
        updated.spans.pop(name, None)
    return updated
