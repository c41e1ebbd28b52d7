"""What a question asks for: its kind (how many, when, who, ...), the values of that kind a text
holds, whether it asks about the documents themselves (author, date, title) and which field."""

from __future__ import annotations

import re
from functools import lru_cache

from core.lexical import MONTHS, STOPWORDS, fold, names, numbers, stem, terms
from qa.answer import Library

_KINDS = {
    "who": re.compile(
        r"^\W*(who|whom)\b|\b(who|which (official|agency|leader|minister|person|spokesperson))\b", re.I
    ),
    "how_many": re.compile(r"\b(how many|how much|number of|what number|how large|what size|figure)\b", re.I),
    "when": re.compile(
        r"\b(when|what date|which date|what year|which year|what month|which month|what day)\b", re.I
    ),
}


_DATE_EXPRESSION = re.compile(
    rf"\b(?:(?:\d{{1,2}}(?:-\d{{1,2}})?\s+)?(?:{'|'.join(m.title() for m in MONTHS)})(?:\s+\d{{1,2}})?(?:,?\s+\d{{4}})?"
    r"|(?:19|20)\d\d)\b"
)


_METADATA = {
    "author": re.compile(
        r"\b(who wrote|written by|writer|author|byline|who penned|whose (article|opinion|piece))\b", re.I
    ),
    "date": re.compile(
        r"\b(when was (it|the|this)\b.*\b(published|posted|written)|publication date|date of (the )?(article|post|piece)|published on|posted on)\b",
        re.I,
    ),
    "publisher": re.compile(
        r"\b(who published|first appear|which (outlet|publication|publisher|site|website|newspaper|magazine)|publisher|outlet|appeared (first )?(on|in)|where was (it|the|this)\b.*\bpublished)\b",
        re.I,
    ),
    "url": re.compile(r"\b(url|web address|web link|link to)\b", re.I),
}


_FIELD_WORDS = {
    # Worded as the evidence words it ("By Hal Brands", "More from The Hill", "Posted on …").
    "author": "is by {value}.",
    "date": "was posted on {value}.",
    "publisher": "is from {value}.",
    "url": "can be read at {value}",
}


@lru_cache(maxsize=1024)
def question_kind(question: str) -> str | None:
    """``'how_many'``, ``'when'``, ``'who'`` or ``None``; the first that fits. Cached: the
    answerer's scoring, its conflict check and the answerability features all ask, once computed.

    >>> question_kind("Who reported 12,000 troops?"), question_kind("How many were sent?")
    ('who', 'how_many')
    """
    return next((kind for kind, pattern in _KINDS.items() if pattern.search(question)), None)


def names_someone(text: str, known: set[str]) -> bool:
    """Whether ``text`` names an actor the question does not: a capitalised subject
    ("Ukrainian intelligence places …") or a run of two capitalised words ("John Kirby").

    >>> names_someone("If these North Korean troops are used, they will be targets.", {"north", "korean"})
    False
    >>> names_someone("Former Adm. John Kirby put the matter in terms of the laws of war.", set())
    True
    """
    first = re.match(r"\W*([A-Z][\w'’.-]*)", text)
    if first and first.group(1).lower() not in STOPWORDS and fold(first.group(1)) not in known:
        return True
    runs = re.findall(r"\b[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)+", text)
    return any(not set(names(run)) <= known for run in runs)


# The field word as the one who says or thinks something ("what does the author argue", "according
# to the outlet", "the writer's view"): the question is about what the article says, not about it.
_SAYS = (
    r"(say|says|said|argue|argues|argued|think|thinks|thought|claim|claims|claimed|believe|believes|"
    r"suggest|suggests|write|writes|wrote|describe|describes|mention|mentions|report|reports|reported|"
    r"explain|explains|predict|predicts|conclude|concludes|recommend|recommends|expect|expects|see|sees|"
    r"view|views|make of|feel|feels|warn|warns|propose|proposes|call|calls|consider|considers|"
    r"point|points|note|notes|emphasi[sz]e|emphasi[sz]es|assert|asserts|contend|contends)"
)


_FIELD_AS_SPEAKER = re.compile(
    rf"\b(author|writer|outlet|publisher|publication|newspaper|magazine|site|website)(['’]s)?\s+"
    rf"(\w+\s+){{0,2}}?{_SAYS}\b"
    r"|\baccording to (the|this) (author|writer|outlet|publisher|publication|article)\b"
    r"|\b(author|writer)['’]s\s+(view|opinion|argument|position|point|thesis|claim|take|assessment)\b",
    re.I,
)


_DOCUMENT_NOUN = re.compile(
    r"\b(article|articles|piece|story|op-?ed|column|post|essay|commentary|editorial|blog|byline|outlet)\b",
    re.I,
)


# A quoted title, to its last closing quote: an apostrophe inside ("North Korea's") does not end it.
_QUOTED = re.compile(r"\"([^\"]{8,})\"|“([^”]{8,})”|‘(.{8,})’|'(.{8,})'")
_FIELD_TERMS = {
    "who", "wrote", "write", "written", "writer", "author", "authored", "penned", "publish", "published",
    "publisher", "publication", "date", "when", "post", "posted", "appear", "appeared", "first", "url",
    "web", "address", "link", "website", "site", "outlet", "name", "newspaper", "magazine",
}  # fmt: skip


def about_a_document(question: str, library: Library) -> bool:
    """Whether a question that names a metadata field is about one of the indexed documents: it
    says so ("the article", "this piece"), quotes one's title, or asks nothing else ("Who wrote it?").
    "Who wrote the Nong Shu?" and "When was the European Convention written?" are about the content.
    """
    if _DOCUMENT_NOUN.search(question):
        return True
    for groups in _QUOTED.findall(question):
        wanted = set(terms(" ".join(groups)))
        for source in library.sources():
            title = set(terms(library.metadata(source).title or ""))
            # Jaccard similarity: the title itself, not a work that shares two of its words
            if wanted and len(wanted & title) >= 0.6 * len(wanted | title):
                return True
    rest = {t for t in terms(question) if t not in _FIELD_TERMS and stem(t) not in _FIELD_TERMS}
    return not rest


def metadata_field(question: str) -> str | None:
    """The metadata field a question asks about, or ``None`` for a question about what the articles
    say: "Who wrote it?" asks for the author, "What does the author say about Iran?" does not.

    >>> metadata_field("Who is the author of the article?"), metadata_field("What does the author argue about Iran?")
    ('author', None)
    """
    if _FIELD_AS_SPEAKER.search(question) and not re.search(r"\bwho (wrote|is|was)\b", question, re.I):
        return None
    return next((name for name, pattern in _METADATA.items() if pattern.search(question)), None)


def values(text: str, kind: str | None, focus: set[str] | None = None) -> frozenset[str]:
    """What a sentence says for the kind of question: its quantities, or its dates.

    A day of the month is never a quantity. With ``focus`` (the question's terms), a quantity counts
    only when one of the three words after it is a focus term or a name ("3,000 North Korean
    soldiers"), or when it ends the clause: "12,000 troops" and "the number at 12,000." are about
    troops, "13,000 containers" is not.

    >>> sorted(values("signed in June 2023, not in March", "when"))
    ['June 2023', 'March']
    >>> sorted(values("3,000 soldiers by October 3, then 10,000 more", "how_many"))
    ['10000', '3000']
    >>> sorted(values("3,000 North Korean soldiers and 13,000 containers; the number at 12,000.", "how_many", {"soldier"}))
    ['12000', '3000']
    """
    if kind == "how_many":
        found = set()
        for value in numbers(text):
            for match in re.finditer(
                rf"(?<![\d,]){re.escape(display_value(value))}(?![\d,]\d)|(?<![\d,]){value}(?!\d)", text
            ):
                after = text[match.end() :]
                if _is_date_part(text[: match.start()], match.group(), after):
                    continue  # "October 3", "8th October": a day of the month, not a count
                following = " ".join(after.split()[:3])
                if (
                    focus is None
                    or re.match(r"\s*([.;:!?)]|$)", after)
                    or set(terms(following)) & focus
                    or re.match(r"\s*[A-Z]", after)
                ):
                    found.add(value)
        return frozenset(found)
    if kind == "when":
        return frozenset(
            re.sub(r"\s+", " ", m.group()).replace(",", "") for m in _DATE_EXPRESSION.finditer(text)
        )
    return frozenset()


_MONTH_NAMES = "|".join(MONTHS) + "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"


def _is_date_part(before: str, number: str, after: str) -> bool:
    """Whether ``number``, between ``before`` and ``after``, is a day of the month or an ordinal.

    >>> _is_date_part("on October ", "3", ". On"), _is_date_part("On ", "8", "th October")
    (True, True)
    >>> _is_date_part("sent ", "3,000", " troops"), _is_date_part("by November ", "1,500", " soldiers")
    (False, False)
    """
    if re.match(r"(st|nd|rd|th)\b", after, re.I):
        return True
    if not re.fullmatch(r"\d{1,2}", number):
        return False  # 1,500 or 2024 is no day of the month
    if re.search(rf"\b({_MONTH_NAMES})\.?\s*$", before, re.I):
        return True
    return re.match(rf"\s+(of\s+)?({_MONTH_NAMES})\b", after, re.I) is not None


def display_value(value: str) -> str:
    return f"{int(value):,}" if value.isdigit() else value
