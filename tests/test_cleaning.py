"""Boilerplate rules on small made-up pages, sentences, chunks and their offsets."""

from __future__ import annotations

import pytest

from index.chunk import chunk_document, pack_sentences
from index.clean import boilerplate, kept_regions
from index.load import load_seeds, read_seed
from index.metadata import apply_sidecar, extract_metadata
from index.sentences import split_sentences
from qa.errors import SeedError
from tests.conftest import SEEDS

PAGE = """Troops Head East
Troops Head East
Posted on Monday, March 3, 2025
|
by Staff Writer
|
Print

General Lee said 500 soldiers left. They travelled by train.
Sign up for our free Morning Brief newsletter to get more news.
General Lee said 500 soldiers left. They travelled by train.
This article may contain affiliate links; we may receive a commission.
The move surprised Dr. Kim of Seoul, who wrote about it in the U.S. press.
(Photo: Agency/someone)
Jane Roe is a senior fellow at the Example Institute.
The post Troops Head East appeared first on Example Review.
Leave a Comment
More from Example Review
-
Another headline here
Politics - Example Review - 2 hours ago -
What else happened today?
World - Example Review - 5 hours ago
"""


def kept_text(text: str) -> list[str]:
    return [text[s:e] for s, e in kept_regions(text, extract_metadata(text).title)]


def test_boilerplate_rules_each_fire_on_a_made_up_page() -> None:
    rules = {r.rule: PAGE[r.start : r.end] for r in boilerplate(PAGE, extract_metadata(PAGE).title)}
    assert rules["title"] == "Troops Head East"
    assert rules["repeat"] == "General Lee said 500 soldiers left. They travelled by train."
    assert rules["byline"] in ("Posted on Monday, March 3, 2025", "by Staff Writer")
    assert rules["separator"] == "|"
    assert rules["page-word"] in ("Print", "Leave a Comment")
    assert "newsletter" in rules["notice"] or "affiliate" in rules["notice"]
    assert rules["photo-credit"] == "(Photo: Agency/someone)"
    assert rules["footer"].startswith("The post Troops Head East")
    assert rules["link-list"].startswith("More from Example Review") and rules["link-list"].endswith(
        "5 hours ago"
    )


def test_only_content_is_kept() -> None:
    kept = "\n".join(kept_text(PAGE))
    assert "General Lee said 500 soldiers left." in kept
    assert kept.count("General Lee") == 1
    assert "Dr. Kim of Seoul" in kept and "Jane Roe is a senior fellow" in kept
    for noise in (
        "newsletter",
        "affiliate",
        "Print",
        "|",
        "Photo:",
        "appeared first",
        "More from",
        "hours ago",
    ):
        assert noise not in kept


def test_content_lines_that_mention_boilerplate_words_stay() -> None:
    long_line = "Officials said the newsletter " + "described the deployment in detail and at length. " * 8
    text = f"A Headline\n{long_line}\nBy the end of the day, troops had moved."
    kept = "\n".join(kept_text(text))
    assert long_line.strip() in kept
    assert "By the end of the day, troops had moved." in kept


def test_metadata_from_text_and_sidecar(tmp_path) -> None:  # type: ignore[no-untyped-def]
    meta = extract_metadata(PAGE)
    assert (meta.title, meta.date, meta.publisher, meta.author) == (
        "Troops Head East",
        "2025-03-03",
        "Example Review",
        "Jane Roe",
    )
    for field, (start, end) in meta.spans.items():
        assert PAGE[start:end] in (getattr(meta, field), "March 3, 2025")
    seed = tmp_path / "page.txt"
    seed.write_text(PAGE, encoding="utf-8")
    (tmp_path / "page.meta.json").write_text('{"url": "https://example.org/a", "author": "J. Roe"}')
    merged = apply_sidecar(meta, seed)
    assert (
        merged.url == "https://example.org/a" and merged.author == "J. Roe" and "author" not in merged.spans
    )
    (tmp_path / "page.meta.json").write_text('{"colour": "red"}')
    with pytest.raises(SeedError, match="unknown metadata fields"):
        apply_sidecar(meta, seed)


def test_sentences_respect_abbreviations_and_lines() -> None:
    text = "U.S. President Joe Biden spoke. Adm. John Kirby agreed! Was it 3.5 km? Yes.\nA heading"
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "U.S. President Joe Biden spoke.",
        "Adm. John Kirby agreed!",
        "Was it 3.5 km?",
        "Yes.",
        "A heading",
    ]


def test_pack_sentences_never_cuts_and_overlaps_whole_sentences() -> None:
    spans = [(0, 50), (51, 120), (121, 400), (401, 430)]
    chunks = pack_sentences(spans, size=150, overlap=40)
    assert chunks[0] == (0, 120)
    assert (121, 400) in chunks  # longer than size: alone, not cut
    assert all(any(c[0] == s[0] for s in spans) and any(c[1] == s[1] for s in spans) for c in chunks)


@pytest.mark.parametrize("size,overlap", [(600, 150), (300, 0), (1000, 200)])
def test_every_chunk_of_every_seed_round_trips_its_offsets(size: int, overlap: int) -> None:
    loaded = load_seeds(SEEDS)
    assert len(loaded.documents) == 5 and not loaded.errors
    for document in loaded.documents:
        original = (SEEDS / document.source).read_text(encoding="utf-8")
        chunks = chunk_document(document, size, overlap)
        assert chunks
        for chunk in chunks:
            assert original[chunk.start : chunk.end] == chunk.text
            spans = split_sentences(original, chunk.start, chunk.end)
            assert spans[0][0] == chunk.start and spans[-1][1] == chunk.end  # whole sentences only


def test_seed_metadata_found_in_the_articles() -> None:
    by_source = {d.source: d.metadata for d in load_seeds(SEEDS).documents}
    assert by_source["000_bb27b04e273cb384.txt"].url.startswith("https://amac.us/")
    assert by_source["000_bb27b04e273cb384.txt"].date == "2024-07-05"
    assert by_source["002_53706ec53348a28c.txt"].author == "Paul Poast"
    assert by_source["002_53706ec53348a28c.txt"].publisher == "World Politics Review"


def test_non_utf8_seed_is_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9 au lait")
    with pytest.raises(SeedError, match=r"bad\.txt: not valid UTF-8"):
        read_seed(tmp_path / "bad.txt", tmp_path)
