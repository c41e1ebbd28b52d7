"""Words, numbers and names in text, folded the same way for BM25, answer scoring and support checks.

>>> terms("Ukrainian intelligence places the number at 12,000.")
['ukrainian', 'intelligence', 'place', 'number', '12000']
>>> terms("U.S. officials")
['us', 'official']
>>> numbers("at least 3,000 soldiers in June 2024")
{'3000'}
"""

from __future__ import annotations

import re
from functools import lru_cache

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    according say said says tell told much many one ones whose s t
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_FOLD = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\xa0": " "})
_TOKEN = re.compile(r"(?:[a-z]\.){2,}|\d+(?:[.,]\d+)*|[a-z]+(?:'[a-z]+)?")
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?![\d])|(?<![\w.,])\d+(?:\.\d+)?(?![\d,])")
_YEAR = re.compile(r"(19|20)\d\d")
MONTHS = "january february march april may june july august september october november december".split()  # noqa: SIM905


def fold(text: str) -> str:
    """Lower case, typographic quotes and dashes made plain."""
    return text.translate(_FOLD).lower()


def stem(word: str) -> str:
    """A light suffix strip, enough to match ``troops``/``troop`` and ``reported``/``reports``."""
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix, keep in (("ies", "y"), ("'s", ""), ("ing", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + keep
    return word


def _words(text: str) -> list[str]:
    return [t.replace(",", "").replace(".", "") for t in _TOKEN.findall(fold(text))]


def tokens(text: str) -> list[str]:
    """Every word and number, folded and stemmed; ``12,000`` becomes ``12000``."""
    return [stem(t) for t in _words(text)]


def terms(text: str) -> list[str]:
    """The content words of ``text``, stemmed: stop words are dropped before stemming, so that
    "this" and "does" do not survive as "thi" and "doe".

    >>> terms("When was this published? What does it say?")
    ['publish']
    """
    return list(_terms(text))


@lru_cache(maxsize=65_536)  # the same sentences are weighed for question after question
def _terms(text: str) -> tuple[str, ...]:
    return tuple(stem(t) for t in _words(text) if t not in STOPWORDS and stem(t) not in STOPWORDS)


def numbers(text: str) -> set[str]:
    """Quantities in ``text`` with separators removed; years (1900-2099) are not quantities."""
    found = set()
    for match in _NUMBER.finditer(text.translate(_FOLD)):
        value = match.group().replace(",", "")
        if not (_YEAR.fullmatch(value) and "," not in match.group()):
            found.add(value)
    return found


def dates(text: str) -> set[str]:
    """Month names and years mentioned in ``text``, e.g. ``{'june', '2023'}``."""
    folded = fold(text)
    found = {m for m in MONTHS if re.search(rf"\b{m}\b", folded)}
    found.update(re.findall(r"\b(?:19|20)\d\d\b", folded))
    return found


def names(text: str, sentence_initial: bool = True) -> set[str]:
    """Capitalised words and initialisms, folded, without stop words ("The", "In").

    ``sentence_initial=False`` also drops every word that opens a sentence.

    >>> sorted(names("U.S. intelligence said Kim Jong Un met Putin."))
    ['jong', 'kim', 'putin', 'u.s', 'un']
    """
    found = set()
    for match in re.finditer(r"(?<![\w.])([A-Z][\w'’.-]*[\w])", text):
        before = text[: match.start()].rstrip()
        if not sentence_initial and (not before or before[-1] in '.!?"“:'):
            continue
        name = re.sub(r"'s$", "", fold(match.group(1)))
        if name not in STOPWORDS:
            found.add(name)
    return found


NEGATION = re.compile(
    r"\b(not|no|never|none|neither|nor|without|den(y|ies|ied)|refut\w*|reject\w*|dismiss\w*|cannot|unlikely|fail\w*)\b"
    r"|n[’']t\b",
    re.IGNORECASE,
)


def negated(text: str) -> bool:
    """Whether ``text`` holds a negation or a denial.

    >>> negated("Russia denied it"), negated("Russia confirmed it")
    (True, False)
    """
    return bool(NEGATION.search(text))
