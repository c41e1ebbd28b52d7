"""What a question asks for, checked once for every entry point: the Python API, the CLI, the
chat and ``/ask`` all build a :class:`Request` through :func:`parse_request` before anything runs.

Each violation raises a named :class:`~core.errors.InvalidRequestError` whose ``field`` says what to
change and whose message says how; nothing reaches the index or a model unchecked.

    >>> parse_request(" Who reported  12,000 troops?\\n", [("user", "Hi"), ["assistant", "Hello"]],
    ...               top_k="8", max_question_chars=2000, answerers=["extractive"]).question
    'Who reported 12,000 troops?'
    >>> parse_request("\\x1b[31mred", max_question_chars=2000, answerers=["extractive"])
    Traceback (most recent call last):
    ...
    core.errors.InvalidQuestionError: The question holds the control character U+001B (ESC) at character 1: remove it

What is checked (README, "Bad input"):

- text (question, history turns, source names): a ``str``; valid Unicode (an unpaired surrogate, or a
  byte that was not UTF-8 on the command line, is refused); no control characters but tab and line
  breaks; not blank; at most ``max_question_chars`` (the history: ``max_history_chars`` in all).
  Runs of white space in a question become one space, and it is NFC-normalised.
- history: a list of turns, each a ``(role, text)`` pair or a ``{"role": .., "content": ..}``
  message, role ``user`` or ``assistant``.
- ``top_k``: a whole number from 1 to :data:`MAX_TOP_K` (``8``, ``"8"`` and ``8.0`` are 8; ``1.5``,
  ``True`` and ``"abc"`` are refused); ``mode``: ``hybrid``, ``dense`` or ``bm25``; ``answerer``: one
  the installation has; ``sources``: document names (unknown names are refused by the pipeline,
  which knows the index).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_args

from core.display import CONTROLS
from core.errors import InvalidHistoryError, InvalidOptionError, InvalidQuestionError, InvalidRequestError
from core.settings import MAX_TOP_K, RetrievalMode

MAX_SOURCES = 1000  # document names one question may restrict the search to
ROLES = ("user", "assistant")
MODES: tuple[str, ...] = get_args(RetrievalMode)
# What text may not hold: control characters, and surrogates (lone halves of a pair, or bytes that
# were not UTF-8, as Python keeps them from a command line).
_UNSAFE = re.compile(f"[{CONTROLS}\ud800-\udfff]")
_NAMES = {0: "NUL", 7: "BEL", 8: "BS", 0x1B: "ESC", 0x7F: "DEL", 0x9B: "CSI"}


@dataclass(frozen=True)
class Request:
    """One checked question and its options (``None``: the pipeline's setting)."""

    question: str
    history: tuple[tuple[str, str], ...] = ()
    top_k: int | None = None
    sources: tuple[str, ...] | None = None
    answerer: str | None = None
    mode: RetrievalMode | None = None


def parse_request(
    question: Any,
    history: Any = None,
    *,
    top_k: Any = None,
    sources: Any = None,
    answerer: Any = None,
    mode: Any = None,
    max_question_chars: int,
    max_history_chars: int = 100_000,
    answerers: Collection[str],
) -> Request:
    """The :class:`Request` for these values, or the first :class:`InvalidRequestError` they hold."""
    return Request(
        question=parse_question(question, max_question_chars),
        history=parse_history(history, max_history_chars),
        top_k=parse_top_k(top_k),
        sources=parse_sources(sources),
        answerer=parse_choice(answerer, "answerer", list(answerers)),
        mode=parse_choice(mode, "mode", list(MODES)),
    )


def parse_question(value: Any, limit: int) -> str:
    """The question as it will be answered: checked text, white space collapsed, NFC."""
    text = check_text(value, "question", "The question", InvalidQuestionError)
    # White space collapses locally, so a prefix that is too long once collapsed means the whole is:
    # a 100 MB question is refused in about a second, before the slow work on all of it.
    _check_length(re.sub(r"\s+", " ", text[: 2 * limit + 2]).strip(), limit, whole=len(text))
    text = re.sub(r"\s+", " ", text).strip()
    text = unicodedata.normalize("NFC", text)
    _check_length(text, limit)
    if not text:
        raise InvalidQuestionError("The question is empty: type a question about the articles")
    return text


def _check_length(text: str, limit: int, whole: int | None = None) -> None:
    if len(text) > limit:
        count = len(text) if whole is None else whole
        raise InvalidQuestionError(
            f"The question is {count:,} characters long; the limit is {limit:,} "
            "(QA_MAX_QUESTION_CHARS): shorten it"
        )


def parse_history(value: Any, limit: int) -> tuple[tuple[str, str], ...]:
    """Earlier turns as ``(role, text)`` pairs; ``None`` or ``[]`` for none."""
    if value is None:
        return ()
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise InvalidHistoryError(
            f"The history is a list of [role, text] turns, not {kind_of(value)}: "
            'send e.g. [["user", "Who reported 12,000 troops?"], ["assistant", "…"]]'
        )
    turns: list[tuple[str, str]] = []
    total = 0
    for i, turn in enumerate(value, 1):
        role, text = _turn(turn, i)
        if role not in ROLES:
            raise InvalidHistoryError(
                f"History turn {i} has the role {_shown(role)}; the roles are 'user' and 'assistant'"
            )
        text = check_text("" if text is None else text, "history", f"History turn {i}", InvalidHistoryError)
        total += len(text)
        if total > limit:
            raise InvalidHistoryError(
                f"The history holds more than {limit:,} characters (QA_MAX_HISTORY_CHARS): "
                "send only the latest turns"
            )
        turns.append((role, text))
    return tuple(turns)


def _turn(turn: Any, i: int) -> tuple[Any, Any]:
    if isinstance(turn, Mapping):
        if "role" in turn and ("content" in turn or "text" in turn):
            return turn["role"], turn.get("content", turn.get("text"))
    elif isinstance(turn, Sequence) and not isinstance(turn, str | bytes) and len(turn) == 2:
        return turn[0], turn[1]
    raise InvalidHistoryError(
        f"History turn {i} is {kind_of(turn)}; each turn is a [role, text] pair or a "
        '{"role": ..., "content": ...} message'
    )


def parse_top_k(value: Any) -> int | None:
    """A whole number of passages from 1 to :data:`MAX_TOP_K`, or ``None`` for the setting."""
    if value is None:
        return None
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif (
        isinstance(value, float)
        and value.is_integer()
        or isinstance(value, str)
        and re.fullmatch(r"\s*[+-]?\d{1,9}\s*", value)
    ):
        number = int(value)
    if number is None or not 1 <= number <= MAX_TOP_K:
        raise InvalidOptionError(
            f"top_k is the number of passages to retrieve, a whole number from 1 to {MAX_TOP_K}, "
            f"not {_shown(value)}",
            field="top_k",
        )
    return number


def parse_choice(value: Any, field: str, allowed: list[str]) -> Any:
    """``value`` when it is one of ``allowed``; ``None`` for the setting."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in allowed:
        raise InvalidOptionError(
            f"Unknown {field} {_shown(value)}; available: {', '.join(allowed)}", field=field
        )
    return value


def parse_sources(value: Any) -> tuple[str, ...] | None:
    """Document names to restrict the search to (one name, or a list); ``None`` or empty: all."""
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    if isinstance(names, bytes | Mapping) or not isinstance(names, Sequence):
        raise InvalidOptionError(
            f"sources is a list of document names, not {kind_of(value)}", field="sources"
        )
    if len(names) > MAX_SOURCES:
        raise InvalidOptionError(f"sources names more than {MAX_SOURCES} documents", field="sources")
    checked = []
    for name in names:
        name = check_text(name, "sources", "A document name", InvalidOptionError).strip()
        if not name:
            raise InvalidOptionError("A document name in sources is empty", field="sources")
        checked.append(name)
    return tuple(dict.fromkeys(checked)) or None


def check_text(value: Any, field: str, what: str, error: type[InvalidRequestError]) -> str:
    """``value`` when it is a ``str`` of valid Unicode without control characters (tab and line
    breaks allowed); else ``error`` with a message that says where the bad character is."""
    if not isinstance(value, str):
        raise error(f"{what} must be text, not {kind_of(value)}", field=field)
    bad = _UNSAFE.search(value)  # one pass at C speed: a 100 MB question is refused in a second
    if bad is None:
        return value
    i, code = bad.start() + 1, ord(bad.group())
    if 0xDC80 <= code <= 0xDCFF:  # how Python keeps a byte that was not UTF-8 (a command line)
        raise error(
            f"{what} is not valid UTF-8 (the byte 0x{code - 0xDC00:02X} at character {i}): "
            "send it as UTF-8 text",
            field=field,
        )
    if 0xD800 <= code <= 0xDFFF:
        raise error(
            f"{what} holds an unpaired surrogate (U+{code:04X}) at character {i}, which is not "
            "text: send it as UTF-8",
            field=field,
        )
    name = f" ({_NAMES[code]})" if code in _NAMES else ""
    raise error(
        f"{what} holds the control character U+{code:04X}{name} at character {i}: remove it", field=field
    )
    return value


def kind_of(value: Any) -> str:
    return "None" if value is None else f"{type(value).__name__} {_shown(value)}"


def _shown(value: Any) -> str:
    """A short, printable rendering of a value the user sent (its own text never goes out raw)."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
