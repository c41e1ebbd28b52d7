"""Question sets and hand-labelled support pairs: the JSONL files an evaluation reads.

A question set has one JSON object a line (``tests/data/dev_questions.jsonl`` is the project's)::

    {"id": "q001", "question": "Who reported 12,000 troops?", "expected": ["Ukrainian intelligence"],
     "sources": ["001_8ecca554f728260b.txt"],
     "quotes": ["Ukrainian intelligence places the number at 12,000."],
     "type": "who", "answerable": true, "split": "dev"}

Optional: ``expected_all`` (every string must appear), ``history`` (earlier ``[role, text]`` turns),
``type`` (a label to break results down by) and ``split`` (default ``"dev"``; the project keeps a
``"heldout"`` part that nothing was tuned on). ``answerable`` defaults to whether anything is expected.

A support-pair file (``tests/data/support_pairs.jsonl``) holds ``id, claim, passage, supported,
kind, split`` (``source`` optional).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from core.errors import QAError

T = TypeVar("T", bound=BaseModel)


class EvalDataError(QAError):
    """A question set or a pair file is missing, not JSONL, or has an invalid line."""


class EvalQuestion(BaseModel):
    """One question of a question set."""

    id: str
    question: str = Field(min_length=1)
    expected: list[str] = Field(default_factory=list)
    expected_all: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    quotes: list[str] = Field(default_factory=list, description="Gold quotes, exact text of the sources")
    type: str = ""
    answerable: bool = True
    history: list[tuple[Literal["user", "assistant"], str]] = Field(default_factory=list)
    split: str = "dev"

    @model_validator(mode="before")
    @classmethod
    def _default_answerable(cls, data: object) -> object:
        if isinstance(data, dict) and "answerable" not in data:
            data = {**data, "answerable": bool(data.get("expected") or data.get("expected_all"))}
        return data

    @property
    def has_gold(self) -> bool:
        """Whether retrieval can be scored: the question names gold quotes or sources."""
        return bool(self.quotes or self.sources)


class SupportPair(BaseModel):
    """A (claim, passage) pair with a human's verdict: does the passage support the claim?"""

    id: str
    claim: str = Field(min_length=1)
    passage: str = Field(min_length=1)
    supported: bool
    kind: str = ""
    split: str = "dev"
    source: str | None = None

    @field_validator("kind", "split")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


def _read_jsonl(path: Path, model: type[T]) -> list[T]:
    if not path.is_file():
        raise EvalDataError(f"No file {path}: give a JSONL file, one object a line")
    items: list[T] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = model.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as error:
            first = (
                str(error).splitlines()[0] if isinstance(error, json.JSONDecodeError) else _first_error(error)
            )
            raise EvalDataError(f"{path}, line {number}: {first}") from error
        key = str(getattr(item, "id", number))
        if key in seen:
            raise EvalDataError(f"{path}, line {number}: the id {key!r} is used twice")
        seen.add(key)
        items.append(item)
    if not items:
        raise EvalDataError(f"{path} holds no lines")
    return items


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "line"
    return f"{where}: {first['msg']}"


def load_questions(path: Path, split: str = "all") -> list[EvalQuestion]:
    """The questions in ``path``; only those of ``split`` unless it is ``"all"``."""
    questions = _read_jsonl(path, EvalQuestion)
    if split != "all":
        questions = [q for q in questions if q.split == split]
        if not questions:
            raise EvalDataError(f"{path} has no question with split {split!r}")
    return questions


def sample_per_split(questions: list[EvalQuestion], n: int, seed: int = 0) -> list[EvalQuestion]:
    """At most ``n`` questions of each split, drawn with a fixed seed, in their file order.

    >>> qs = [EvalQuestion(id=str(i), question="q", split="dev" if i < 5 else "heldout") for i in range(7)]
    >>> [q.id for q in sample_per_split(qs, 2)]
    ['3', '4', '5', '6']
    """
    import random

    keep: set[str] = set()
    for split in sorted({q.split for q in questions}):
        ids = [q.id for q in questions if q.split == split]
        keep.update(ids if len(ids) <= n else random.Random(seed).sample(ids, n))
    return [q for q in questions if q.id in keep]


def load_pairs(path: Path) -> list[SupportPair]:
    """The hand-labelled support pairs in ``path``."""
    return _read_jsonl(path, SupportPair)
