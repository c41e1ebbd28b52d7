"""Read seed documents: every ``.txt`` and ``.md`` file under the seeds folder, as UTF-8.

A file that cannot be read or decoded is reported by name and skipped; the others still load.
Other files are skipped with a warning naming them (``.meta.json`` sidecars are expected, not warned of).
Control characters (NUL, terminal escape sequences whole; all but tab and line breaks) are replaced
one for one by spaces as a seed is read: offsets into the indexed text are offsets into the file, and no escape
sequence from a document reaches a terminal or a page.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.display import CONTROLS
from core.errors import NoSeedsError, SeedError
from index.clean import kept_regions, keyword_share
from index.injection import scan
from index.metadata import DocumentMetadata, apply_sidecar, extract_metadata

log = logging.getLogger(__name__)
SEED_SUFFIXES = (".txt", ".md")
Reading = Callable[[str, int], None]  # (seed about to be read and cleaned, its size in bytes)
CONTROL = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # a terminal control sequence (colours, cursor moves), whole
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c\n]{0,200}(?:\x07|\x1b\\|\x9c)?"  # an operating system command (window title)
    rf"|[{CONTROLS}]"  # any other control character but tab and line breaks
)


@dataclass(frozen=True)
class SeedDocument:
    """One seed file, its text exactly as on disk, and what was learnt about it."""

    source: str  # path relative to the seeds folder, with "/" separators
    text: str  # exactly as on disk, but for control characters replaced one for one by spaces
    sha256: str
    metadata: DocumentMetadata
    regions: list[tuple[int, int]] = field(default_factory=list)  # kept (non-boilerplate) spans


@dataclass
class LoadResult:
    documents: list[SeedDocument]
    errors: list[SeedError]
    skipped: list[str]
    unreadable: list[str] = field(default_factory=list)  # seeds behind ``errors``: keep what they had
    outside: list[str] = field(default_factory=list)  # links that lead out of the seeds folder
    duplicates: dict[str, str] = field(default_factory=dict)  # a seed -> the seed with its content


def seed_files(seeds_dir: Path, outside: list[Path] | None = None) -> tuple[list[Path], list[Path]]:
    """``(seeds, others)``: the files to index and the ones that will be skipped, sorted.

    A file reached through a symbolic link that leads out of the seeds folder is neither: it is
    added to ``outside`` (when given) and never read. A link that stays inside is followed."""
    if not seeds_dir.is_dir():
        raise NoSeedsError(
            f"Seeds folder {seeds_dir} does not exist: create it and put .txt or .md files in it"
        )
    root = seeds_dir.resolve()
    seeds, others = [], []
    for path in sorted(p for p in seeds_dir.rglob("*") if p.is_file()):
        if any(part.startswith(".") for part in path.relative_to(seeds_dir).parts):
            continue
        if not path.resolve().is_relative_to(root):
            if outside is not None:
                outside.append(path)
            continue
        if path.suffix.lower() in SEED_SUFFIXES:
            seeds.append(path)
        elif not path.name.endswith(".meta.json"):
            others.append(path)
    return seeds, others


def file_key(path: Path) -> tuple[int, ...]:
    """What tells that a file changed without reading it: ``(size, mtime, ctime, inode, device)``,
    ``()`` when it cannot be looked at. The mtime alone can be kept through an edit (``touch -r``,
    ``cp -p``, ``rsync -t``); the ctime cannot (the kernel sets it on every write and every change
    of times), and a file renamed over the old one (``sed -i``, ``rsync``) has another inode."""
    try:
        info = path.stat()
    except OSError:
        return ()
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


def _decoded(path: Path, source: str) -> tuple[bytes, str]:
    """The seed's bytes and its text; ``SeedError`` when it cannot be read or is not UTF-8."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SeedError(f"{source}: cannot be read ({error.strerror or error})") from error
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SeedError(
            f"{source}: not valid UTF-8 (byte {error.start}: {raw[error.start : error.start + 1]!r}); "
            "re-save it as UTF-8"
        ) from error


def size_words(size: int) -> str:
    """A file size for people: ``size_words(12_400_000) == "12 MB"``, ``size_words(80_000) == "80 KB"``."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.0f} MB"
    return f"{max(1, round(size / 1000))} KB"


def check_seed(path: Path, seeds_dir: Path) -> None:
    """Raise the ``SeedError`` :func:`read_seed` would, without cleaning the text: the file is
    read and decoded, its sidecar read. Cheap enough to list a seed of any size (the library)."""
    _decoded(path, path.relative_to(seeds_dir).as_posix())
    apply_sidecar(DocumentMetadata(), path)


def read_seed(path: Path, seeds_dir: Path) -> SeedDocument:
    """One seed, decoded, cleaned and with its metadata; raises ``SeedError`` naming the file."""
    source = path.relative_to(seeds_dir).as_posix()
    raw, text = _decoded(path, source)
    text, replaced = CONTROL.subn(lambda match: " " * len(match.group()), text)
    if replaced:
        log.warning("%s: %d control characters (NUL, terminal escapes) read as spaces", source, replaced)
    metadata = apply_sidecar(extract_metadata(text), path)
    regions = kept_regions(text, metadata.title)
    metadata.keyword_share = round(keyword_share(text, regions), 4)
    addressed, sentences = scan(text, regions)
    metadata.addressed_sentences = len(addressed)
    metadata.addressed_share = round(len(addressed) / sentences, 4) if sentences else 0.0
    return SeedDocument(
        source=source,
        text=text,
        sha256=hashlib.sha256(raw).hexdigest(),
        metadata=metadata,
        regions=regions,
    )


def left_out(
    seeds_dir: Path, indexed: dict[str, str], errors: dict[str, str] | None = None
) -> dict[str, str]:
    """The indexed seeds whose file changed since and cannot be read, each with why: their indexed
    text is no longer the file's, and answers leave them out until the file can be indexed again.

    ``indexed`` maps a source to the content hash indexed; ``errors`` (a source to why it cannot be
    read, as :func:`load_seeds` found) spares reading the other seeds again. A seed whose bytes are
    the ones indexed (only its sidecar broke) or whose file was deleted is not left out.
    """
    found: dict[str, str] = {}
    for source, sha256 in indexed.items():
        if errors is not None and source not in errors:
            continue
        path = seeds_dir / source
        try:
            if hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
                continue
        except FileNotFoundError:
            continue  # deleted: a build removes it
        except OSError:
            pass  # cannot be read at all: left out
        if errors is not None:
            found[source] = errors[source]
            continue
        try:
            check_seed(path, seeds_dir)  # only whether it can be read: never cleaned for that
        except SeedError as error:
            found[source] = str(error)
    return found


def load_seeds(seeds_dir: Path, reading: Reading | None = None) -> LoadResult:
    """Every readable seed under ``seeds_dir``; unreadable ones are in ``errors``, never fatal.
    ``reading`` is told of each seed before it is read: a large one takes a while."""
    leaving: list[Path] = []
    paths, others = seed_files(seeds_dir, leaving)
    for link in leaving:
        log.warning("Skipping %s: it links to a file outside the seeds folder", link.relative_to(seeds_dir))
    for other in others:
        log.warning(
            "Skipping %s: only %s files are indexed", other.relative_to(seeds_dir), "/".join(SEED_SUFFIXES)
        )
    result = LoadResult([], [], [o.relative_to(seeds_dir).as_posix() for o in others])
    result.outside = [link.relative_to(seeds_dir).as_posix() for link in leaving]
    first_with: dict[str, str] = {}
    for path in paths:
        if reading is not None:
            reading(path.relative_to(seeds_dir).as_posix(), (file_key(path) or (0,))[0])
        try:
            document = read_seed(path, seeds_dir)
        except SeedError as error:  # the seed itself, or its metadata sidecar
            result.errors.append(error)
            result.unreadable.append(path.relative_to(seeds_dir).as_posix())
            continue
        if document.sha256 in first_with:  # the same content under another name: indexed once
            result.duplicates[document.source] = first_with[document.sha256]
            log.warning("Skipping %s: same content as %s", document.source, first_with[document.sha256])
            continue
        first_with[document.sha256] = document.source
        result.documents.append(document)
    if not paths:
        raise NoSeedsError(f"No .txt or .md files in {seeds_dir}: add the articles to index")
    return result
