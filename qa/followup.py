"""Resolve a follow-up question against the conversation before retrieval.

A question is a follow-up when the conversation has an earlier user turn and the question leans on
it: it opens with a connective ("And …", "What about …"), points back with a pronoun ("they",
"that"), or has too few content words to stand alone. Its search query is then the question plus
the previous question and the start of the previous answer.

    >>> r = resolve("And how many did U.S. intelligence say?", [("user", "Who reported 12,000 troops?")])
    >>> r.is_followup, r.query
    (True, 'And how many did U.S. intelligence say? Who reported 12,000 troops?')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.lexical import terms

History = Sequence[tuple[str, str]]
_CONNECTIVE = re.compile(
    r"^\s*(and|but|so|also|then|what about|how about|and what about|what else|why)\b", re.I
)
_POINTER = re.compile(
    r"\b(they|them|their|it|its|that|this|those|these|he|she|his|her|there|the same)\b", re.I
)
MIN_STANDALONE_TERMS = 3
ANSWER_CONTEXT_CHARS = 300


@dataclass(frozen=True)
class Resolved:
    question: str  # as asked
    query: str  # what retrieval searches for
    is_followup: bool
    previous: str | None = None  # the earlier user question it leans on


def _clean(answer: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", answer)[:ANSWER_CONTEXT_CHARS]


def resolve(question: str, history: History | None) -> Resolved:
    """The question with the context it needs for retrieval, when it is a follow-up."""
    turns = [(role, text) for role, text in history or [] if text and text.strip()]
    previous_user = next((text for role, text in reversed(turns) if role == "user"), None)
    if previous_user is None:
        return Resolved(question, question, False)
    leans = (
        bool(_CONNECTIVE.search(question) or _POINTER.search(question))
        or len(terms(question)) < MIN_STANDALONE_TERMS
    )
    if not leans:
        return Resolved(question, question, False)
    previous_answer = next((text for role, text in reversed(turns) if role == "assistant"), "")
    parts = [question, previous_user]
    if previous_answer and _POINTER.search(question):
        parts.append(_clean(previous_answer))  # "Who said that?" points into the answer
    return Resolved(question, " ".join(parts), True, previous_user)
