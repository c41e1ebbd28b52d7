"""The document library: uploads converted to seeds (index/convert.py: real trafilatura and pypdf on
small fixtures), safe names, removal; and through ui/library.py over a real index and the real
embedding model: an uploaded .md and .html answered with exact citations, removed and no longer cited.

    HF_HUB_OFFLINE=1 python -m pytest tests/test_library.py -q          # about 30 s
    HF_HUB_OFFLINE=1 python -m pytest tests/test_library.py -q -m "not slow"   # seconds
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import (
    EmptyUploadError,
    NotRemovableError,
    UnsupportedUploadError,
    UploadError,
    UploadTooLargeError,
)
from index.convert import convert, is_upload, remove_upload, safe_name, save_upload
from index.load import load_seeds

ARTICLE_HTML = b"""<!doctype html><html><head><title>Harbour cranes return | Coastal Gazette</title>
<meta name="author" content="Mira Solberg"><meta property="og:site_name" content="Coastal Gazette">
<meta property="article:published_time" content="2024-03-14"></head><body>
<nav><a href="/">Home</a> <a href="/sport">Sport</a> <a href="/weather">Weather</a> Subscribe now</nav>
<article><h1>Harbour cranes return to Vellmar</h1>
<p>The port of Vellmar reopened its northern quay on Tuesday after eighteen months of repairs.</p>
<p>Harbour master Ilse Brandt said the three new cranes can lift 65 tonnes each, twice the old ones.</p>
<p>Shipping lines expect the first container vessel to dock there next week.</p></article>
<footer>Copyright 2024 Coastal Gazette. All rights reserved. Sign up for our newsletter.</footer>
</body></html>"""

ARTICLE_MD = """# Glacier lake monitoring in Tarnvik

Hydrologists in Tarnvik installed eleven sensors on the Sorvatn glacier lake in May.
Project lead Oskar Lindqvist said the sensors report the water level every ten minutes.
The municipality paid 2.4 million kroner for the warning system.
"""


def pdf(*lines: str) -> bytes:
    """A minimal one-page PDF whose text layer holds ``lines`` (Helvetica), with a true xref table."""
    text = " ".join(f"({line}) Tj 0 -20 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {text} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> "
        b"/Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


# --- safe names


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("report.txt", "report.txt"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\notes.MD", "notes.md"),
        (".hidden.txt", "hidden.txt"),
        ("...", "document"),
        ("Ünïcode name (1).html", "n-code-name-1-.html"),
        ("a" * 300 + ".txt", "a" * 76 + ".txt"),
    ],
)
def test_safe_names_have_no_path_no_leading_dot_and_few_characters(name: str, safe: str) -> None:
    assert safe_name(name) == safe


# --- conversion


def test_text_and_markdown_are_kept_byte_for_byte(tmp_path: Path) -> None:
    data = ARTICLE_MD.encode()
    path = save_upload(tmp_path, "Glacier lake.md", data, 10_000)
    assert path == tmp_path / "uploads" / "Glacier-lake.md"
    assert path.read_bytes() == data
    assert not list(path.parent.glob("*.meta.json"))  # nothing to add: the text states its title


def test_html_keeps_the_article_and_its_metadata_and_drops_the_boilerplate(tmp_path: Path) -> None:
    path = save_upload(tmp_path, "cranes.html", ARTICLE_HTML, 100_000)
    assert path.name == "cranes.txt"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("Harbour cranes return to Vellmar\n")
    assert "65 tonnes each" in text
    for boilerplate in ("Subscribe", "Weather", "Copyright", "newsletter"):
        assert boilerplate not in text
    sidecar = json.loads((path.parent / "cranes.meta.json").read_text(encoding="utf-8"))
    assert sidecar == {
        "title": "Harbour cranes return to Vellmar",
        "author": "Mira Solberg",
        "publisher": "Coastal Gazette",
        "date": "2024-03-14",
    }
    seed = load_seeds(tmp_path).documents[0]  # the index reads the sidecar; offsets are the file's
    assert (seed.source, seed.metadata.publisher, seed.metadata.date) == (
        "uploads/cranes.txt",
        "Coastal Gazette",
        "2024-03-14",
    )
    start = seed.text.index("Harbour master")
    assert text[start : start + 14] == "Harbour master"


def test_pdf_text_layer_becomes_the_seed(tmp_path: Path) -> None:
    data = pdf("Ferry timetable for Lofsund", "The night ferry leaves at 23:40 from pier four.")
    path = save_upload(tmp_path, "timetable.pdf", data, 100_000)
    assert path.name == "timetable.txt"
    text = path.read_text(encoding="utf-8")
    assert "Ferry timetable for Lofsund" in text and "night ferry leaves at 23:40" in text


def test_a_pdf_without_text_says_so() -> None:
    with pytest.raises(EmptyUploadError, match="no text layer"):
        convert("scan.pdf", pdf(), 100_000)
    with pytest.raises(UnsupportedUploadError, match="not a readable PDF"):
        convert("fake.pdf", b"%PDF-1.4 nothing here", 100_000)


@pytest.mark.parametrize(
    ("name", "data", "error", "match"),
    [
        ("big.txt", b"x" * 101, UploadTooLargeError, "over the 100 allowed.*QA_MAX_UPLOAD_BYTES"),
        ("tool.exe", b"MZ", UnsupportedUploadError, r"\.exe files are not taken"),
        ("README", b"text", UnsupportedUploadError, "no extension"),
        ("latin.txt", "café".encode("latin-1"), UnsupportedUploadError, "not valid UTF-8.*re-save"),
        ("blank.md", b"  \n\n", EmptyUploadError, "no text"),
        (
            "menu.html",
            b"<html><head><title>Empty</title></head><body><script>var a = 1;</script></body></html>",
            EmptyUploadError,
            "no article",
        ),
        # Only the site's furniture: the extractor's fallbacks took it as the article ("menu").
        ("nav.html", b"<html><body><nav>menu</nav></body></html>", EmptyUploadError, "no article"),
        (
            "chrome.html",
            b'<?xml version="1.0"?><header>Gazette</header><p role="search">Go</p><aside>Top</aside>',  # < 100
            EmptyUploadError,
            "no article",
        ),
    ],
)
def test_what_cannot_be_a_seed_is_refused_by_name(name: str, data: bytes, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        convert(name, data, 100)


@pytest.mark.parametrize("charset", ["", "<meta charset=iso-8859-1>"], ids=["undeclared-utf-8", "latin-1"])
def test_a_short_page_keeps_its_text_and_letters_when_its_furniture_goes(charset: str) -> None:
    page = f"<html><head>{charset}</head><body><nav>Home</nav><div>Café Zhuk in Kyiv reopened.</div></body></html>"
    converted = convert("cafe.html", page.encode("latin-1" if charset else "utf-8"), 1000)
    assert converted.text == "Café Zhuk in Kyiv reopened.\n"


def test_an_upload_never_overwrites_a_seed_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    first = save_upload(tmp_path, "note.txt", b"First note about the harbour.", 1000)
    second = save_upload(tmp_path, "note.txt", b"Second note about the harbour.", 1000)
    third = save_upload(tmp_path, "note.html", ARTICLE_HTML, 100_000)
    assert [p.name for p in (first, second, third)] == ["note.txt", "note-2.txt", "note-3.txt"]
    assert first.read_bytes() == b"First note about the harbour."
    # A page next to a Markdown seed of the same stem: its sidecar must not describe that seed too.
    (tmp_path / "uploads" / "cranes.md").write_text("# Cranes\n\nA note of our own.\n", encoding="utf-8")
    assert save_upload(tmp_path, "cranes.html", ARTICLE_HTML, 100_000).name == "cranes-2.txt"
    (tmp_path / "uploads" / "cranes.md").unlink()
    (tmp_path / "uploads" / "cranes-2.txt").unlink()
    (tmp_path / "uploads" / "cranes-2.meta.json").unlink()
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == [
        "note-2.txt",
        "note-3.meta.json",
        "note-3.txt",
        "note.txt",
    ]


def test_a_seeds_folder_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    (tmp_path / "uploads").write_text("a file where the uploads folder should be", encoding="utf-8")
    with pytest.raises(UploadError, match=r"note.txt: cannot be stored in .*uploads.*writable"):
        save_upload(tmp_path, "note.txt", b"A note.", 1000)


def test_only_uploaded_documents_can_be_removed(tmp_path: Path) -> None:
    (tmp_path / "own.txt").write_text("The operator's seed.", encoding="utf-8")
    path = save_upload(tmp_path, "cranes.html", ARTICLE_HTML, 100_000)
    assert is_upload("uploads/cranes.txt") and not is_upload("own.txt") and not is_upload("uploads/a/b.txt")
    for source in ("own.txt", "uploads/../own.txt", "uploads/missing.txt"):
        with pytest.raises(NotRemovableError):
            remove_upload(tmp_path, source)
    remove_upload(tmp_path, "uploads/cranes.txt")
    assert not path.exists() and not (path.parent / "cranes.meta.json").exists()
    assert (tmp_path / "own.txt").exists()


# --- through the library's handlers, over a real index


@pytest.mark.slow
def test_uploaded_documents_are_indexed_cited_exactly_and_removed(
    make_settings, embeddings, tmp_path: Path
) -> None:
    from qa.pipeline import Pipeline
    from ui.library import Library
    from ui.status import IndexStatus, prepare_index

    settings = make_settings(watch_seeds=0)
    (settings.seeds_dir / "own.txt").write_text(
        "Orchard report\nApple growers in Hallin picked 300 tonnes this autumn.\n", encoding="utf-8"
    )
    pipeline, status = Pipeline(settings, embeddings=embeddings), IndexStatus()
    prepare_index(pipeline, status)
    library = Library(pipeline, status, upload_folder=tmp_path)  # where the box's files lie
    assert [(r.source, r.status) for r in library.rows()] == [("own.txt", "indexed")]
    (settings.seeds_dir / "latin.txt").write_bytes("Caf\xe9 report".encode("latin-1"))
    with (settings.seeds_dir / "own.txt").open("a", encoding="utf-8") as own:
        own.write("Pear growers picked 40 tonnes.\n")
    rows = {r.source: r.status for r in library.rows()}  # no build follows the folder (watch_seeds=0)
    assert rows["own.txt"] == "changed since indexing"
    assert rows["latin.txt"].startswith("failed: latin.txt: not valid UTF-8 (byte 3")
    assert '<tr data-source="latin.txt">' in library.table() and "qa-lib-failed" in library.table()

    md, html, tags = tmp_path / "glacier.md", tmp_path / "cranes.html", tmp_path / "tags.md"
    md.write_text(ARTICLE_MD, encoding="utf-8")
    html.write_bytes(ARTICLE_HTML)
    tags.write_text("Tags <img src=x onerror=alert(1)>\n\nA page whose title is markup.\n", encoding="utf-8")
    message, table, _, _ = library.upload([str(md), str(html), str(tags)])
    assert "Added uploads/glacier.md, uploads/cranes.txt, uploads/tags.md: being indexed" in message
    assert {r.source: r.status for r in library.rows()}["uploads/glacier.md"] in ("being indexed", "indexed")
    pipeline.index.check_seeds()  # what index_soon runs in the background; waits for it when it still runs
    pipeline.index.ensure_index()
    rows = {r.source: r for r in library.rows()}
    assert rows["uploads/cranes.txt"].status == "indexed" and rows["uploads/cranes.txt"].chunks
    assert rows["uploads/cranes.txt"].publisher == "Coastal Gazette"
    assert rows["uploads/glacier.md"].status == "indexed"
    assert "Coastal Gazette" in library.table()
    assert rows["uploads/tags.md"].title == "Tags <img src=x onerror=alert(1)>"
    assert "<img" not in library.table() and "Tags &lt;img src=x onerror=alert(1)&gt;" in library.table()

    for question, source, words in (
        ("How much can the new cranes in Vellmar lift?", "uploads/cranes.txt", "65 tonnes"),
        (
            "How often do the Sorvatn sensors report the water level?",
            "uploads/glacier.md",
            "every ten minutes",
        ),
    ):
        answer = pipeline.ask(question)
        cited = [c for c in answer.citations if c.source == source]
        assert cited and any(words in c.quote for c in cited), answer.text
        stored = (settings.seeds_dir / source).read_text(encoding="utf-8")
        for citation in cited:
            assert stored[citation.start : citation.end] == citation.quote
            assert pipeline.index.text(source)[citation.start : citation.end] == citation.quote

    message, _, _ = library.remove("own.txt")
    assert "only uploaded documents" in message
    message, _, _ = library.remove("uploads/cranes.txt")
    assert "Removed uploads/cranes.txt" in message
    pipeline.index.check_seeds()
    pipeline.index.ensure_index()
    assert "uploads/cranes.txt" not in {r.source for r in library.rows()}
    answer = pipeline.ask("How much can the new cranes in Vellmar lift?")
    assert all(c.source != "uploads/cranes.txt" for c in answer.citations)
    pipeline.close()


@pytest.mark.slow
def test_listing_the_library_never_cleans_a_seed(make_settings, embeddings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The library lists a seed the index does not hold yet (a large one, one that cannot be read)
    without cleaning it: a 50 MB seed was cleaned again for every refresh (93 s once)."""
    import index.clean
    import index.load
    from index.synthetic import write_large_seed
    from qa.pipeline import Pipeline
    from tests.conftest import SEEDS
    from ui.library import Library
    from ui.status import IndexStatus, prepare_index

    settings = make_settings(watch_seeds=0)
    (settings.seeds_dir / "own.txt").write_text(
        "Orchard report\nApple growers in Hallin picked 300 tonnes this autumn.\n", encoding="utf-8"
    )
    pipeline, status = Pipeline(settings, embeddings=embeddings), IndexStatus()
    prepare_index(pipeline, status)
    write_large_seed(
        SEEDS, settings.seeds_dir / "big.txt", 400_000, "The Quillmark festival drew 4,321 visitors."
    )
    (settings.seeds_dir / "latin.txt").write_bytes("Caf\xe9 report".encode("latin-1"))
    (settings.seeds_dir / "tagged.txt").write_text("Tagged report\nA sentence.\n", encoding="utf-8")
    (settings.seeds_dir / "tagged.meta.json").write_text('{"colour": "red"}', encoding="utf-8")

    cleaned: list[str] = []
    real = index.clean.kept_regions

    def counting(text: str, title: str | None = None) -> list[tuple[int, int]]:
        cleaned.append(title or text[:40])
        return real(text, title)

    monkeypatch.setattr(index.clean, "kept_regions", counting)
    monkeypatch.setattr(index.load, "kept_regions", counting)
    library = Library(pipeline, status)
    rows = {r.source: r.status for r in library.rows()}
    library.table()
    assert cleaned == [], f"listing cleaned {len(cleaned)} seed(s)"
    assert rows["own.txt"] == "indexed" and rows["big.txt"] == "not indexed yet"
    assert rows["latin.txt"].startswith("failed: latin.txt: not valid UTF-8 (byte 3"), rows
    assert rows["tagged.txt"].startswith("failed: tagged.meta.json: unknown metadata fields ['colour']"), rows
    pipeline.close()
