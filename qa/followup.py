"""Resolve a follow-up question against the conversation before retrieval.

A question is a follow-up when the conversation has an earlier user turn and the question cannot
stand alone (:func:`leans_on_context`): it opens with a connective ("And …", "What about …"), has
too little content of its own ("Why?", "Which year?"), or points back with a word whose referent is
not in the question itself ("Where did *they* go next?", "Who said *that*?", "What did the Pentagon
say about *it*?"). A pointer with its referent in the question ("… according to the article that
reported *it*?") does not make a follow-up. The search query of a follow-up is the question plus
the previous question, and the start of the previous answer when the question points back.

    >>> r = resolve("And how many did U.S. intelligence say?", [("user", "Who reported 12,000 troops?")])
    >>> r.is_followup, r.query
    (True, 'And how many did U.S. intelligence say? Who reported 12,000 troops?')

Surface rules over one question, in general English: no parser, no model, and no knowledge of what
the conversation was about. Definite descriptions ("When was the treaty signed?") are taken to
stand alone. Measured on a labelled set by ``scripts/followup_eval.py``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from core.lexical import STOPWORDS, terms

History = Sequence[tuple[str, str]]
MIN_STANDALONE_TERMS = 2  # content words a question needs of its own ("Who founded Warsaw?")
ANSWER_CONTEXT_CHARS = 300


def _words(text: str) -> set[str]:
    return set(text.split())


_CONNECTIVE = re.compile(
    r"^\s*(and|but|so|also|then|or|plus|what about|how about|what else|anything else)\b", re.I
)
# Tokens as written: initialisms, words (with an apostrophe), numbers, and clause punctuation.
_TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|[A-Za-z]+(?:['’][A-Za-z]+)?|\d+(?:[.,]\d+)*|[,;:]")
_PUNCT = _words(", ; :")
_PERSONAL = _words("he she they it him them his its their her")
_DEMONSTRATIVE = _words("this that these those")
_WH = _words("what which who whom whose when where why how")
_AUX = _words(
    "is are was were be been am do does did has have had can could will would shall should may might must 's"
)
_BE = _words("is are was were be been 's isn't aren't wasn't weren't")
_PREPOSITION = _words(
    "about above across after against along among around at before behind below beside besides between beyond "
    "by despite during for from in inside into like near of off on onto out outside over per since through "
    "throughout to toward towards under until upon via with within without"
)
# Words that open a clause: a pointer word in a later clause may refer to a name in an earlier one.
_CLAUSE = _words(
    "; : and or but that which who whom whose when where while after before because since if whether although "
    "though until unless why how"
)
_DETERMINER = _words("the a an this that these those his her its their")
# Function words lexical.STOPWORDS leaves in; never a question's own content.
_FUNCTION = _PREPOSITION | _words(
    "else exactly really still ever even yet next later earlier afterwards ago instead anything something anyone "
    "someone everything another any"
)
_EXPLETIVE_VERB = _BE | _words(
    "seem seems seemed take takes took cost costs matter matters appear appears true"
)
_EXISTENTIAL_VERB = _BE | _words(
    "exist exists existed remain remains remained seem seems seemed used have has had"
)
_NOW = _words("year week month morning afternoon evening summer winter spring autumn century decade time")
_GENERIC = _words(
    "who whom whose which that with of in from on at for responsible present involved concerned"
)
_PLACE_PREPOSITION = _words("in at to from near into inside across")
_NOT_CONTENT = _FUNCTION | _AUX | STOPWORDS
_NOT_NAME = STOPWORDS | _FUNCTION | _WH | _AUX  # "What", "In", "Did" open a question in capitals


@dataclass(frozen=True)
class Resolved:
    question: str  # as asked
    query: str  # what retrieval searches for
    is_followup: bool
    previous: str | None = None  # the earlier user question it leans on


def _clean(answer: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", answer)[:ANSWER_CONTEXT_CHARS]


def _is_content(word: str) -> bool:
    low = word.lower()
    return low not in _NOT_CONTENT and bool(terms(low))


def _is_name(raw: list[str], i: int) -> bool:
    """A capitalised word or an initialism ("Warsaw", "U.S.", "NATO"), not "What" or "I"."""
    word = raw[i]
    if not word[:1].isupper() or word == "I":
        return False
    base = re.sub(r"['’]s$", "", word).lower()
    return i > 0 or base not in _NOT_NAME


def _referent(raw: list[str], positions: range, skip: Collection[int] = ()) -> bool:
    """Whether a name or a content word stands at one of ``positions`` outside ``skip``."""
    return any(_is_name(raw, j) or _is_content(raw[j]) for j in positions if j not in skip)


def _clause_start(low: list[str], i: int) -> int:
    """Where the clause holding position ``i`` starts. A question word opens its clause ("… and
    |when did that happen"); "to" opens one only before a verb ("wanted |to succeed him", not
    "react to that")."""
    for j in range(i - 1, -1, -1):
        if low[j] in _WH:
            return j
        after = low[j + 1]
        if j == i - 1 and low[j] in _PREPOSITION:
            continue  # "after that", "since then": a preposition, not a new clause
        if low[j] in _CLAUSE or (
            low[j] == "to" and j + 1 < i and after not in _DETERMINER and after.isalpha()
        ):
            return j + 1
    return 0


def _frame(low: list[str], start: int, i: int) -> int | None:
    """The end of a question frame in the clause ``start``..``i``: the position after the auxiliary
    of an inverted question ("In what year did | he die", "Does | the EU recognise it"), or None."""
    aux = next((j for j in range(start, i) if low[j] in _AUX), None)
    if aux is None or aux - start > 4:
        return None
    if aux == start or any(low[j] in _WH for j in range(start, aux)):
        return aux + 1
    return None


def _clause_core(raw: list[str], low: list[str], start: int, i: int) -> set[int]:
    """Positions of the frame, the subject and the verb of the clause before position ``i``:
    "What did | the Pentagon | say about it" or "Who | replaced her". An object pronoun never refers to
    its own clause's subject ("Does the EU recognise it?"), nor to the frame."""
    frame = _frame(low, start, i)
    j = start if frame is None else frame
    heads = 0
    while j < i and heads < 2:  # the subject's head word (with the rest of a name), then the verb
        if _is_name(raw, j) or _is_content(raw[j]):
            heads += 1
            while heads == 1 and j + 1 < i and _is_name(raw, j + 1):
                j += 1
        j += 1
    return set(range(start, j))


def _subject_frame(low: list[str], start: int, i: int) -> set[int]:
    """The frame before a pronoun that directly follows the auxiliary ("How long did | it last"): the
    pronoun is the subject there, so "long" is not its referent."""
    frame = _frame(low, start, i)
    return set(range(start, i)) if frame == i else set()


def _pronoun_role(low: list[str], i: int) -> str:
    """'subject', 'object' or 'possessive' for the pronoun at ``i`` ("her" and "it" are ambiguous)."""
    word, before = low[i], low[i - 1] if i else ""
    after = low[i + 1] if i + 1 < len(low) else ""
    plain = not after or after in _PUNCT | _FUNCTION | STOPWORDS  # nothing of its own follows
    if word in {"his", "its", "their"} or (word == "her" and not plain):
        return "possessive"
    if word in {"him", "them", "her"}:
        return "object"
    if word == "it" and before and before not in _AUX | _WH | _CLAUSE and plain:
        return "object"  # "Did the UN condemn it?", but "each soldier it sends" has a verb after it
    return "subject"


def _expletive_it(low: list[str], i: int) -> bool:
    """ "Is it true that …", "How long does it take … to …", "It is possible to …": no referent."""
    near, rest = low[max(0, i - 1) : i + 3], low[i + 1 :]
    return bool(set(near) & _EXPLETIVE_VERB) and bool(set(rest) & {"to", "that", "whether", "if"})


def _pointing_that(raw: list[str], low: list[str], i: int, start: int) -> bool:
    """Whether "that" at ``i`` points ("Who said that?", "When did that happen?", "after that",
    "Who signed that agreement?") rather than joins ("wrote that …", "the view that …")."""
    after, before = low[i + 1 : i + 3], low[i - 1] if i else ""
    if not after or after[0] in _PUNCT:
        return True
    if before in _AUX and _frame(low, start, i) == i:
        return True  # "Is that confirmed?", "What does that mean?"
    if after[0] in _PERSONAL | _DETERMINER | {"there"} or _is_name(raw, i + 1):
        return False  # "figured out that his law …", "wrote that World War II …"
    if i == 0:
        return True  # "That happened when?"
    if before in _PREPOSITION and before != "out":
        return True  # "after that", "in that war"
    return len(after) == 1 or after[1] in _PUNCT  # "Who signed that agreement?"


def _existential_there(low: list[str], i: int) -> bool:
    """ "Is there …", "There were …", "there must be …", "there exists …": not a place."""
    after = low[i + 1 : i + 3]
    return bool(set(low[max(0, i - 1) : i + 2]) & _EXISTENTIAL_VERB) or (
        len(after) == 2 and after[0] in _AUX and after[1] in {"be", "been"}
    )


def _generic(low: list[str], i: int) -> bool:
    """ "those who …", "those fleeing France", "these tasks that …": described where they stand."""
    after = low[i + 1 : i + 4]
    return bool(after) and (
        after[0] in _GENERIC
        or after[0].endswith(("ing", "ed"))
        or bool(set(after) & {"who", "which", "that"})
    )


def _past_pointer(low: list[str], i: int) -> bool:
    """A closing "back then" or "at the time" with no year or number before it to point at."""
    phrase = (low[i] == "then" and low[i - 1 : i] == ["back"]) or (
        low[i] == "time" and low[i - 2 : i] == ["at", "the"]
    )
    return phrase and low[i + 1 : i + 2] in ([], [","]) and not any(t.isdigit() for t in low[:i])


def _unresolved_pointer(raw: list[str]) -> str | None:
    """The first pointer word of a question whose referent is not in the question, or None.

    >>> _unresolved_pointer("What did the Pentagon say about it".split())
    'it'
    >>> _unresolved_pointer("What did Kremlin Spokesman Dmitry Peskov call a reporter's question".split())
    """
    low = [t.lower().replace("’", "'") for t in raw]
    for i, word in enumerate(low):
        start = _clause_start(low, i)
        if word in _PERSONAL and not (word == "it" and _expletive_it(low, i)):
            role = _pronoun_role(low, i)
            skip = _clause_core(raw, low, start, i) if role == "object" else _subject_frame(low, start, i)
            if not _referent(raw, range(i), skip):
                return word
        elif word in _DEMONSTRATIVE:
            after = low[i + 1] if i + 1 < len(low) else ""
            if (word == "that" and not _pointing_that(raw, low, i, start)) or (
                word == "this" and after in _NOW
            ):
                continue  # a conjunction or a relative; "this year" points at now
            if word in {"these", "those"} and _generic(low, i):
                continue
            # "…, and why was that ruling important?" refers to an earlier clause of the question
            if not _referent(raw, range(start), _subject_frame(low, start, i)):
                return word
        elif word == "there" and not _existential_there(low, i):
            if not set(low[:i]) & _PLACE_PREPOSITION:  # "lived in Warsaw until … there" has its place
                return word
        elif _past_pointer(low, i):
            return "back then" if word == "then" else "at the time"
    return None


def _short(raw: list[str], low: list[str]) -> bool:
    """Too little of its own: fewer than two content words, unless it asks about a name or a bare
    term with a verb of its own ("Who were the Semuren?", "What is photosynthesis?")."""
    if sum(_is_content(t) for t in raw) >= MIN_STANDALONE_TERMS:
        return False
    has_verb = bool(set(low) & _AUX)
    named = any(_is_name(raw, j) for j in range(len(raw)))
    defines = len(low) >= 3 and low[0] in _WH and low[1] in _BE and low[2] not in _DETERMINER | _PERSONAL
    return not ((named and has_verb) or defines)


def leans_on_context(question: str) -> str | None:
    """Why ``question`` cannot stand alone, or None when it can.

    >>> leans_on_context("Where did they go next?")
    'points back: they'
    >>> leans_on_context("Which year?")
    'too little of its own'
    >>> leans_on_context("How many troops did North Korea send, according to the article that reported it?")
    """
    raw = _TOKEN.findall(question)
    pointer = _unresolved_pointer(raw)
    if pointer:
        return f"points back: {pointer}"
    if _CONNECTIVE.search(question):
        return "opens with a connective"
    if _short(raw, [t.lower() for t in raw]):
        return "too little of its own"
    return None


def resolve(question: str, history: History | None) -> Resolved:
    """The question with the context it needs for retrieval, when it is a follow-up."""
    turns = [(role, text) for role, text in history or [] if text and text.strip()]
    previous_user = next((text for role, text in reversed(turns) if role == "user"), None)
    if previous_user is None:
        return Resolved(question, question, False)
    reason = leans_on_context(question)
    if reason is None:
        return Resolved(question, question, False)
    previous_answer = next((text for role, text in reversed(turns) if role == "assistant"), "")
    parts = [question, previous_user]
    if previous_answer and reason.startswith("points back"):
        parts.append(_clean(previous_answer))  # "Who said that?" points into the answer
    return Resolved(question, " ".join(parts), True, previous_user)
