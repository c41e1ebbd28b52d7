"""Boilerplate rules on small made-up pages, sentences, chunks and their offsets."""

from __future__ import annotations

import pytest

from core.errors import SeedError
from index.chunk import chunk_document, pack_sentences
from index.clean import MAX_NOTICE_CHARS, boilerplate, kept_regions, line_rule
from index.load import load_seeds, read_seed
from index.metadata import apply_sidecar, extract_metadata
from index.sentences import split_sentences
from tests.conftest import DATA, SEEDS

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


# Made-up pages (tests/data/boilerplate) with boilerplate the seeds do not have. Every line the
# rules must remove, by the rule that must remove it; every other line of those pages must stay.
BOILERPLATE_PAGES = {
    path.name: path.read_text(encoding="utf-8") for path in (DATA / "boilerplate").glob("*.txt")
}
BOILERPLATE_BY_KIND = {
    "share": [
        "Share on Facebook",
        "Share on X",
        "Share this article",
        "Tweet",
        "Email",
        "WhatsApp",
        "Copy link",
        "Gift this article",
        "Facebook Twitter WhatsApp Email",
    ],
    "consent": [
        "We use cookies to improve your experience on our site and to show you relevant advertising. "
        "By continuing to browse, you agree to our use of cookies.",
        "This website uses cookies to personalise content and ads. See our Cookie Policy.",
        "Accept all cookies",
        "Manage preferences",
        "Reject all",
        "Accept all",
    ],
    "subscription": ["Subscribe for $1", "Already a subscriber? Log in", "Sign in to continue reading"],
    "copyright": [
        "© 2024 Example Media. All rights reserved.",
        "Copyright 2024 Example Business Daily",
        "Copyright 2024 Example Magazine Group. All rights reserved.",
    ],
    "follow": ["Follow us on Instagram", "Follow @kharkivnews on X", "Join our Telegram channel"],
    "related": [
        "Related: Finland extends closure of its eastern border crossings",
        "Read also: How the Baltic states are preparing for a longer war",
    ],
    "link-list": ["Related Articles", "Recommended"],  # the heading; the links under it go with it
    "advert": ["Advertisement", "ADVERTISEMENT", "Sponsored content"],
    "photo-credit": [
        "Photo: Reuters",
        "Getty Images",
        "A volunteer carries trays of bread in Kharkiv. Getty Images",
        "Soldiers patrol the Latvian border near Daugavpils. (AP Photo/John Doe)",
        "Kim Jong Un inspects flood damage in Sinuiju. Photograph: KCNA via Reuters",
        "Image credit: Kharkiv City Council",
        "File photo",
    ],
    "reading-time": ["Listen to this article", "Listen to this article · 3 min", "4 min read", "7 min read"],
    "timestamp": ["Updated 3 hours ago", "Updated 5 hours ago", "Published 2 days ago"],
    "byline": ["By Maria Lopez", "By Tom Baker"],
    "breadcrumb": ["Home > World > Europe", "Home » News » Asia"],
    "counter": ["12 comments", "Comments (12)", "Comments (4)"],
    "page-word": ["Report an error"],
    "site-links": [
        "Terms of Use | Privacy Policy",
        "Privacy Policy | Terms of Use | Cookie Policy | Contact us",
    ],
}
# Sentences of those pages that use the same words as boilerplate, and must stay.
CONTENT_LOOKALIKES = [
    "The ministry said it would share intelligence with allies.",
    "Share prices in Seoul fell 2% after the report, as investors weighed the cost of new docks.",
    "Officials follow the situation closely.",
    "Follow-up visits by the council are planned for December.",
    "Follow the money, the auditors said, and the donations add up.",
    "The copyright dispute went to court in 2019.",
    "All rights reserved under the 2022 contract remain with the band, the label said.",
    "Cookies were handed out to soldiers.",
    "In a tweet, the Latvian foreign minister called the flights a deliberate provocation.",
    "Email records reviewed by investigators show the order to close two crossings was sent on Tuesday morning.",
    "WhatsApp groups run by soldiers' families shared photos from the kitchen.",
    "Subscribers to the group's data service were told to expect delays to the quarterly figures.",
    "Few countries subscribe to the treaty's inspection regime, the report added.",
    "Thousands of young men sign up for the army each year, many of them hoping to learn a trade.",
    "Advertisement revenue at the group's media arm fell by 4% last year, its annual report showed.",
    "Sponsored by a local charity, the kitchen also trains 20 cooks a month.",
    "Related talks are planned for May, a spokesman for the publisher said.",
    "Recommended measures include a register of wartime recordings.",
    "A photo released by the council showed the kitchen's first delivery of flour.",
    "The Getty Museum lent 12 paintings to a charity auction for the kitchen last year.",
    "Listen to the recording, the band's lawyer told the court, and you will hear the same four bars.",
    "Updated estimates put the number of copies sold at 11,000.",
    "Updated figures from the agency showed rainfall of 300 mm in twelve hours.",
    "Home to about 3 million people, Lithuania borders both Belarus and Russia's Kaliningrad exclave.",
    "The council received 12 comments on the plan before the deadline.",
    "Why the checks matter now",
    "Emergency shelters",
]


def removed_lines(text: str) -> dict[str, str]:
    """Each line of ``text`` inside a removed span, and the rule that removed it."""
    return {
        line.strip(): cut.rule
        for cut in boilerplate(text)
        for line in text[cut.start : cut.end].splitlines()
        if line.strip()
    }


def pages_with_line(line: str) -> list[str]:
    pages = [text for text in BOILERPLATE_PAGES.values() if line in text.splitlines()]
    assert pages, f"{line!r} is on no page in tests/data/boilerplate"
    return pages


@pytest.mark.parametrize("kind", sorted(BOILERPLATE_BY_KIND))
def test_boilerplate_kind_is_removed(kind: str) -> None:
    for line in BOILERPLATE_BY_KIND[kind]:
        for page in pages_with_line(line):
            assert removed_lines(page).get(line) == kind, line


@pytest.mark.parametrize("line", CONTENT_LOOKALIKES)
def test_content_that_mentions_boilerplate_words_stays(line: str) -> None:
    assert line_rule(line) is None
    for page in pages_with_line(line):
        assert line not in removed_lines(page)
        assert any(line in page[s:e] for s, e in kept_regions(page))


@pytest.mark.parametrize("name", sorted(BOILERPLATE_PAGES))
def test_made_up_page_loses_its_boilerplate_and_nothing_else(name: str) -> None:
    listed = {line: kind for kind, lines in BOILERPLATE_BY_KIND.items() for line in lines}
    text = BOILERPLATE_PAGES[name]
    removed = removed_lines(text)
    for line in text.splitlines():
        if line in listed:
            assert removed.get(line) == listed[line], line
        elif line.strip():
            assert removed.get(line) in (None, "link-list"), line  # content, or a link under a heading
    lists = [text[c.start : c.end] for c in boilerplate(text) if c.rule == "link-list"]
    assert all(block.count("\n") == 2 for block in lists)  # each list: its heading and two links


@pytest.mark.parametrize(
    "phrase", ["We use cookies to", "Subscribe for $1.", "Follow us on Instagram", "© 2024 Example Media."]
)
def test_a_long_paragraph_is_never_removed_for_a_phrase(phrase: str) -> None:
    paragraph = f"{phrase} " + "The convoy crossed the river at dawn and reached the town by noon. " * 5
    assert len(paragraph) > MAX_NOTICE_CHARS
    assert not boilerplate(f"A Headline\n{paragraph}\nThe end.")


def test_seed_sentence_an_answer_depends_on_is_kept() -> None:
    by_source = {d.source: d for d in load_seeds(SEEDS).documents}
    document = by_source["001_8ecca554f728260b.txt"]
    kept = "\n".join(document.text[s:e] for s, e in document.regions)
    assert "Ukrainian intelligence places the number at 12,000." in kept


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


def _pages(chars: int, draw: int = 7) -> str:
    """About ``chars`` characters of scraped pages, as a large dump holds them: the seeds one after
    another, again and again, each line carrying its page's number half of the time (so some
    boilerplate repeats and some does not, as across the pages of one site)."""
    import random

    lines = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))).splitlines()
    rng, out, size, page = random.Random(draw), [], 0, 0
    while size < chars:
        for line in lines:
            line = f"{line} ({page})" if line and rng.random() < 0.5 else line
            out.append(line)
            size += len(line) + 1
        page += 1
    return "\n".join(out)[:chars]


def _one_line(chars: int, draw: int = 7) -> str:
    """The pages with no line breaks: one line of ``chars`` characters."""
    return _pages(chars, draw).replace("\n", " ")


def _html(chars: int, draw: int = 7) -> str:
    """The pages as HTML saved as text: one element a line, tags, links and adverts."""
    marked = "\n".join(
        f'<p class="body">{line}</p>' if len(line) > 80 else f'<div class="nav"><a href="/x">{line}</a></div>'
        for line in _pages(chars, draw).splitlines()
    )
    return f"<html><body>\n{marked}\n</body></html>"[:chars]


@pytest.mark.parametrize("shape", [_pages, _one_line, _html], ids=["pages", "one-line", "html"])
def test_reading_a_seed_takes_time_in_proportion_to_its_size(shape, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A 4 MB seed is read (decoded, cleaned, scanned) in about four times a 1 MB one's time: a
    50 MB seed was an hour when it grew faster. A ratio in one run, not a timing: machines differ."""
    import time

    def seconds(megabytes: float, draw: int) -> float:
        path = tmp_path / f"{draw}.txt"  # another draw each time: nothing read before is remembered
        path.write_text(shape(int(megabytes * 1_000_000), draw), encoding="utf-8")
        began = time.perf_counter()
        read_seed(path, tmp_path)
        return time.perf_counter() - began

    seconds(0.1, 0)  # what is done once (imports, compiled patterns) is not the 1 MB seed's
    small = min(seconds(1, 1), seconds(1, 2))  # the faster of two: a pause of the machine is not the code's
    large = seconds(4, 3)
    assert large < 6 * small, f"1 MB: {small:.2f} s, 4 MB: {large:.2f} s ({large / small:.1f} times)"
