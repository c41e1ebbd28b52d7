"""The support judges an evaluation can use, by name (``python -m qa.eval run --judge NAME``).

A judge is anything with the :class:`qa.verify.SupportJudge` shape: a ``name``, a ``threshold``
and ``score(claim, passage) -> float`` in ``[0, 1]``. The default is the project's offline
:class:`qa.verify.OverlapJudge`. Another judge (an LLM judge, once the project has an LLM backend)
is added by registering a factory::

    from qa.eval.judges import JUDGES
    JUDGES["llm"] = lambda settings, embed: LLMJudge(settings)

and is then validated like the default with ``python -m qa.eval judge --judge llm``.
"""

from __future__ import annotations

from collections.abc import Callable

from qa.errors import QAError
from qa.settings import Settings
from qa.verify import Embed, OverlapJudge, SupportJudge

JudgeFactory = Callable[[Settings, Embed], SupportJudge]


class UnknownJudgeError(QAError):
    """No judge is registered under the name asked for."""


def _overlap(settings: Settings, embed: Embed) -> SupportJudge:
    return OverlapJudge(embed=embed)


JUDGES: dict[str, JudgeFactory] = {"overlap": _overlap}
DEFAULT_JUDGE = "overlap"


def make_judge(name: str, settings: Settings, embed: Embed) -> SupportJudge:
    """The judge registered as ``name``, built over ``embed`` (a cached sentence embedder)."""
    if name not in JUDGES:
        raise UnknownJudgeError(f"No support judge named {name!r}; available: {', '.join(JUDGES)}")
    return JUDGES[name](settings, embed)
