"""Prompt templates, kept as files under ``prompts/`` (TOML: ``variables``, ``system``, ``user``,
and optionally ``examples``: fixed ``[user, assistant]`` exchanges shown before the real one, which
steer a small model's format better than rules do).

A template declares the variables it takes; :meth:`Prompt.messages` refuses values that do not
match the declaration exactly, so a prompt and the code that fills it cannot drift apart.

    >>> prompt = Prompt("demo", ("name",), "Be brief.", "Hello {name}")
    >>> prompt.messages(name="Kim")
    [('system', 'Be brief.'), ('human', 'Hello Kim')]
    >>> prompt.messages(nom="Kim")
    Traceback (most recent call last):
    ...
    core.errors.PromptError: Prompt 'demo' takes ['name'], was given ['nom']
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.errors import PromptError
from core.settings import PROJECT_ROOT

PROMPTS_DIR = PROJECT_ROOT / "prompts"


@dataclass(frozen=True)
class Prompt:
    """A system and a user message template with the variables they declare."""

    name: str
    variables: tuple[str, ...]
    system: str
    user: str
    description: str = ""
    examples: tuple[tuple[str, str], ...] = ()

    def placeholders(self) -> set[str]:
        """The ``{names}`` the two templates actually use."""
        return {
            field
            for template in (self.system, self.user)
            for _, field, _, _ in string.Formatter().parse(template)
            if field
        }

    def messages(self, **values: str) -> list[tuple[str, str]]:
        """``[("system", …), (the examples' "human", "ai" turns…), ("human", …)]`` with the values
        filled in (LangChain message tuples); the examples are fixed text."""
        if set(values) != set(self.variables):
            raise PromptError(
                f"Prompt {self.name!r} takes {sorted(self.variables)}, was given {sorted(values)}"
            )
        shown = [turn for user, answer in self.examples for turn in (("human", user), ("ai", answer))]
        return [("system", self.system.format(**values)), *shown, ("human", self.user.format(**values))]


@lru_cache(maxsize=32)
def load_prompt(name: str, folder: Path = PROMPTS_DIR) -> Prompt:
    """The prompt ``folder/NAME.toml``; ``PromptError`` when it is missing or malformed."""
    path = folder / f"{name}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        prompt = Prompt(
            name=name,
            variables=tuple(data["variables"]),
            system=str(data["system"]).strip(),
            user=str(data["user"]).strip(),
            description=str(data.get("description", "")),
            examples=tuple((str(u).strip(), str(a).strip()) for u, a in data.get("examples", [])),
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as error:
        raise PromptError(f"Cannot read the prompt {path} ({type(error).__name__}: {error})") from error
    if prompt.placeholders() != set(prompt.variables):
        raise PromptError(
            f"Prompt {path} declares {sorted(prompt.variables)} but uses {sorted(prompt.placeholders())}"
        )
    return prompt
