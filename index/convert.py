"""Turn an uploaded file into a seed: ``.txt``/``.md`` kept as they are, ``.html`` reduced to its
article by trafilatura, ``.pdf`` read by pypdf; stored under ``SEEDS/uploads/`` with a safe name.

    >>> safe_name("../../My Report (final).PDF")
    'My-Report-final-.pdf'

The converted text *is* the seed: it is what the index stores and what citations point into, so
every quote's offsets are true to the stored text by construction. The original HTML or PDF is not
kept (the seed and its ``.meta.json`` sidecar hold what is indexed). Metadata found by the
extractor (title, author, site name as publisher, date, URL) goes into the sidecar
(:mod:`index.metadata`). Files are written atomically: a hidden temporary file (``seed_files``
skips names starting with a dot) linked into place, never over an existing file, the sidecar
first, so the seeds watcher never reads half a file or a seed without its metadata. Uploads live in a subfolder of the
seeds folder, so they are indexed like every other seed; only they can be removed from the page.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import (
    EmptyUploadError,
    NotRemovableError,
    UnsupportedUploadError,
    UploadError,
    UploadTooLargeError,
)

UPLOADS = "uploads"  # the folder under the seeds folder that uploads land in
UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf")
MAX_NAME_CHARS = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Converted:
    """What an upload becomes: the seed's text, its suffix (``.txt`` or ``.md``) and sidecar fields."""

    text: str
    suffix: str
    metadata: dict[str, str] = field(default_factory=dict)


def safe_name(name: str) -> str:
    """A file name with no path parts, no leading dot, only ``[A-Za-z0-9._-]``, at most
    ``MAX_NAME_CHARS`` characters, the suffix lower-cased: ``"a/.b c.TXT"`` → ``"b-c.txt"``."""
    base = re.split(r"[\\/]", name)[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE.sub("-", stem).lstrip(".-") or "document"
    suffix = _UNSAFE.sub("", suffix).lower()
    stem = stem[: MAX_NAME_CHARS - len(suffix) - 1].rstrip(".")  # "x." + "txt" would read as "x..txt"
    return f"{stem}.{suffix}" if suffix else stem


def convert(name: str, data: bytes, max_bytes: int) -> Converted:
    """The seed an uploaded file ``name`` with content ``data`` becomes; raises a named
    :class:`~core.errors.UploadError` saying what to do when it cannot."""
    if len(data) > max_bytes:
        raise UploadTooLargeError(
            f"{name}: {len(data):,} bytes, over the {max_bytes:,} allowed (QA_MAX_UPLOAD_BYTES); "
            "split it or raise the limit"
        )
    suffix = Path(safe_name(name)).suffix
    if suffix not in UPLOAD_SUFFIXES:
        raise UnsupportedUploadError(
            f"{name}: {suffix or 'no extension'} files are not taken; upload {', '.join(UPLOAD_SUFFIXES)}"
        )
    if suffix in (".txt", ".md"):
        converted = Converted(_utf8(name, data), suffix)
    elif suffix == ".pdf":
        converted = _pdf(name, data)
    else:
        converted = _html(name, data)
    if not converted.text.strip():
        raise EmptyUploadError(f"{name}: holds no text to index")
    return converted


def _utf8(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnsupportedUploadError(
            f"{name}: not valid UTF-8 (byte {error.start}); re-save it as UTF-8 and upload it again"
        ) from None


def _html(name: str, data: bytes) -> Converted:
    """The article of a web page (navigation, footers and ads left out), its title first."""
    import trafilatura

    document = trafilatura.bare_extraction(
        _without_page_furniture(data),
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_precision=True,
    )
    body = (getattr(document, "text", None) or "").strip() if document is not None else ""
    if not body:
        raise EmptyUploadError(
            f"{name}: no article text found in the page; save the article's text as .txt and upload that"
        )
    fields = {
        "title": getattr(document, "title", None),
        "author": getattr(document, "author", None),
        "publisher": getattr(document, "sitename", None),
        "date": getattr(document, "date", None),
        "url": getattr(document, "url", None),
    }
    metadata = {k: str(v).strip() for k, v in fields.items() if v and str(v).strip()}
    title = metadata.get("title", "")
    text = body if not title or body.startswith(title) else f"{title}\n\n{body}"
    return Converted(text + "\n", ".txt", metadata)


# The parts of a page that are the site's, not the article's. The extractor leaves them out of an
# article it finds, but when it finds none its fallbacks take whatever text is left: a page holding
# only a menu became a seed reading "menu".
_FURNITURE = (
    "//nav | //aside | //footer | //menu | //form | //dialog | //script | //style | //noscript"
    " | //template | //header[not(ancestor::article or ancestor::main)]"
    " | //*[@role='navigation' or @role='banner' or @role='contentinfo' or @role='menu'"
    " or @role='menubar' or @role='search' or @role='complementary']"
)


def _without_page_furniture(data: bytes) -> bytes | str:
    """The page with its navigation, header, footer, side bars, forms and scripts taken out.

    >>> _without_page_furniture(b"<html><body><nav>Home</nav><p>Text.</p></body></html>")
    '<html><body><p>Text.</p></body></html>'
    """
    import lxml.etree
    import lxml.html
    from trafilatura.utils import decode_file

    try:  # decoded as the extractor would decode it (a page need not declare its encoding)
        page = re.sub(r"^\s*<\?xml[^>]*>", "", decode_file(data))  # lxml refuses a str that declares one
        tree = lxml.html.document_fromstring(page)
    except (lxml.etree.ParserError, ValueError):  # nothing a parser can read: the extractor says so
        return data
    furniture = [element for element in tree.xpath(_FURNITURE) if element.getparent() is not None]
    if not furniture:
        return data  # the page as it came: the extractor reads its bytes and their encoding itself
    for element in furniture:
        element.drop_tree()
    return lxml.html.tostring(tree, encoding="unicode")  # text: no charset to guess again


def _pdf(name: str, data: bytes) -> Converted:
    """The text layer of every page, pages separated by a blank line."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnsupportedUploadError(f"{name}: the PDF is encrypted; upload an unprotected copy")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata
    except (PdfReadError, ValueError, KeyError, OSError) as error:
        raise UnsupportedUploadError(f"{name}: not a readable PDF ({error})") from None
    text = "\n\n".join(page for page in pages if page)
    if not text.strip():
        raise EmptyUploadError(
            f"{name}: the PDF has no text layer (a scan?); run OCR on it or upload its text as .txt"
        )
    metadata = {}
    if info is not None:
        for key, attribute in (("title", "title"), ("author", "author")):
            value = getattr(info, attribute, None)
            if value and str(value).strip():
                metadata[key] = str(value).strip()
    return Converted(text + "\n", ".txt", metadata)


def _write_new(path: Path, data: bytes) -> None:
    """``data`` at ``path``, all or nothing: a hidden temporary file beside it, hard-linked into
    place. ``FileExistsError`` when ``path`` exists: it is never replaced, and two uploads cannot
    take the same name."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.link(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _free_stem(folder: Path, stem: str) -> str:
    """``stem``, or ``stem-2``, ``stem-3``...: the first no file in ``folder`` starts with
    (``stem.``), so that a new seed and its sidecar never meet another seed's (``a.meta.json``
    would also describe ``a.md``)."""
    n = 1
    while True:
        candidate = stem if n == 1 else f"{stem}-{n}"
        if not any(folder.glob(f"{candidate}.*")):  # a safe name holds no glob characters
            return candidate
        n += 1


def save_upload(seeds_dir: Path, name: str, data: bytes, max_bytes: int) -> Path:
    """Convert the upload and store it as a new seed in ``seeds_dir/uploads/``; its path.

    The name is :func:`safe_name` of ``name`` with the seed's suffix (``report.pdf`` →
    ``report.txt``), suffixed ``-2``, ``-3``... rather than overwriting a seed."""
    converted = convert(name, data, max_bytes)
    folder = seeds_dir / UPLOADS
    try:
        return _store(folder, name, data, converted)
    except OSError as error:
        raise UploadError(
            f"{name}: cannot be stored in {folder} ({error.strerror or error}); "
            "check that the seeds folder is writable and the disk not full"
        ) from None


def _store(folder: Path, name: str, data: bytes, converted: Converted) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(safe_name(name)).stem or "document"
    raw = data if converted.suffix == Path(safe_name(name)).suffix else converted.text.encode("utf-8")
    sidecar = json.dumps(converted.metadata, ensure_ascii=False, indent=1).encode()
    while True:
        free = _free_stem(folder, stem)
        path = folder / f"{free}{converted.suffix}"
        try:  # the sidecar first: the watcher never sees the seed without its metadata
            if converted.metadata:
                _write_new(folder / f"{free}.meta.json", sidecar)
        except FileExistsError:  # another upload took the name meanwhile: the next one
            continue
        try:
            _write_new(path, raw)
        except FileExistsError:
            if converted.metadata:  # ours, written just now
                (folder / f"{free}.meta.json").unlink(missing_ok=True)
            continue
        return path


def is_upload(source: str) -> bool:
    """Whether the seed ``source`` (a path relative to the seeds folder) is an uploaded one."""
    parts = source.split("/")
    return len(parts) == 2 and parts[0] == UPLOADS and not parts[1].startswith(".")


def remove_upload(seeds_dir: Path, source: str) -> None:
    """Delete the uploaded seed ``source`` (``uploads/NAME``) and its sidecar; the next build drops
    it from the index. Other seeds are the operator's and are refused."""
    if not is_upload(source):
        raise NotRemovableError(f"{source}: only uploaded documents ({UPLOADS}/...) can be removed here")
    folder = (seeds_dir / UPLOADS).resolve()
    path = seeds_dir / source
    if path.resolve().parent != folder or not path.is_file():
        raise NotRemovableError(f"{source}: no such uploaded document")
    path.unlink()  # the seed first: the watcher never sees it without its metadata
    for sidecar in (path.with_name(path.stem + ".meta.json"), path.with_name(path.name + ".meta.json")):
        sidecar.unlink(missing_ok=True)
