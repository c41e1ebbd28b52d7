"""The support judges an evaluation can use, by name (``python -m qa.eval run --judge NAME``).

The judges are the project's own, registered in :mod:`qa.registry` (``overlap``: word coverage and
embedding similarity, no LLM; ``llm``: a model that reads, when the ``llm`` extra is installed).
``auto`` picks the strongest available: the LLM judge when an LLM is configured, else overlap.
"""

from __future__ import annotations

from core.errors import UnknownJudgeError
from core.settings import Settings
from qa.registry import JUDGES, Models, llm_configured
from qa.registry import make_judge as _make
from qa.verify import Embed, SupportJudge

__all__ = ["DEFAULT_JUDGE", "JUDGES", "UnknownJudgeError", "make_judge", "strongest_judge"]

DEFAULT_JUDGE = "auto"


def strongest_judge(settings: Settings) -> str:
    """``llm`` when an LLM backend is configured and installed, else ``overlap``."""
    return "llm" if llm_configured(settings.judge_llm or settings.llm) else "overlap"


def make_judge(name: str, settings: Settings, embed: Embed, models: Models | None = None) -> SupportJudge:
    """The judge registered as ``name`` (``auto``: :func:`strongest_judge`), built over ``embed``
    (a cached sentence embedder) and, for the LLM judge, ``models``' backend."""
    if name == "auto":
        name = strongest_judge(settings)
    return _make(name, settings, models or Models(settings, embed))
