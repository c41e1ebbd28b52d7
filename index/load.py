"""Read seed documents: every ``.txt`` and ``.md`` file under the seeds folder, as UTF-8.

A file that cannot be read or decoded is reported by name and skipped; the others still load.
Other files are skipped with a warning naming them (``.meta.json`` sidecars are expected, not warned of).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from index.clean import kept_regions
from index.metadata import DocumentMetadata, apply_sidecar, extract_metadata
from qa.errors import NoSeedsError, SeedError

log = logging.getLogger(__name__)
SEED_SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class SeedDocument:
    """One seed file, its text exactly as on disk, and what was learnt about it."""

    source: str  # path relative to the seeds folder, with "/" separators
    text: str
    sha256: str
    metadata: DocumentMetadata
    regions: list[tuple[int, int]] = field(default_factory=list)  # kept (non-boilerplate) spans


@dataclass
class LoadResult:
    documents: list[SeedDocument]
    errors: list[SeedError]
    skipped: list[str]
    unreadable: list[str] = field(default_factory=list)  # seeds behind ``errors``: keep what they had


def seed_files(seeds_dir: Path) -> tuple[list[Path], list[Path]]:
    """``(seeds, others)``: the files to index and the ones that will be skipped, sorted."""
    if not seeds_dir.is_dir():
        raise NoSeedsError(
            f"Seeds folder {seeds_dir} does not exist: create it and put .txt or .md files in it"
        )
    seeds, others = [], []
    for path in sorted(p for p in seeds_dir.rglob("*") if p.is_file()):
        if any(part.startswith(".") for part in path.relative_to(seeds_dir).parts):
            continue
        if path.suffix.lower() in SEED_SUFFIXES:
            seeds.append(path)
        elif not path.name.endswith(".meta.json"):
            others.append(path)
    return seeds, others


def read_seed(path: Path, seeds_dir: Path) -> SeedDocument:
    """One seed, decoded, cleaned and with its metadata; raises ``SeedError`` naming the file."""
    source = path.relative_to(seeds_dir).as_posix()
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SeedError(f"{source}: cannot be read ({error.strerror or error})") from error
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SeedError(
            f"{source}: not valid UTF-8 (byte {error.start}: {raw[error.start : error.start + 1]!r}); "
            "re-save it as UTF-8"
        ) from error
    metadata = apply_sidecar(extract_metadata(text), path)
    return SeedDocument(
        source=source,
        text=text,
        sha256=hashlib.sha256(raw).hexdigest(),
        metadata=metadata,
        regions=kept_regions(text, metadata.title),
    )


def load_seeds(seeds_dir: Path) -> LoadResult:
    """Every readable seed under ``seeds_dir``; unreadable ones are in ``errors``, never fatal."""
    paths, others = seed_files(seeds_dir)
    for other in others:
        log.warning(
            "Skipping %s: only %s files are indexed", other.relative_to(seeds_dir), "/".join(SEED_SUFFIXES)
        )
    result = LoadResult([], [], [o.relative_to(seeds_dir).as_posix() for o in others])
    for path in paths:
        try:
            result.documents.append(read_seed(path, seeds_dir))
        except SeedError as error:  # the seed itself, or its metadata sidecar
            result.errors.append(error)
            result.unreadable.append(path.relative_to(seeds_dir).as_posix())
    if not paths:
        raise NoSeedsError(f"No .txt or .md files in {seeds_dir}: add the articles to index")
    return result
