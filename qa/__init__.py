"""Ask questions of the seed articles and get answers that cite the exact sentences behind them.

    import qa
    answer = qa.ask("Who reported 12,000 troops?")
    answer.text        # 'Ukrainian intelligence places the number at 12,000 [1].'
    answer.citations   # [Citation(n=1, source='001_….txt', quote='Ukrainian intelligence …', start=…, end=…)]

``qa.ask`` uses one lazily created default :class:`Pipeline`; build your own for other settings.
Importing ``qa`` loads no model: that happens on the first question.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from core.errors import QAError
from core.settings import Settings
from qa.schema import Answer, AnswerSentence, Citation, Passage

if TYPE_CHECKING:
    from qa.followup import History
    from qa.pipeline import Pipeline

__all__ = [
    "Answer",
    "AnswerSentence",
    "Citation",
    "Passage",
    "Pipeline",
    "QAError",
    "Settings",
    "ask",
    "default_pipeline",
]

_default: Pipeline | None = None
_default_lock = threading.Lock()


def default_pipeline() -> Pipeline:
    """The pipeline ``qa.ask`` uses, created on first call with settings from the environment."""
    global _default
    with _default_lock:
        if _default is None:
            from qa.pipeline import Pipeline

            _default = Pipeline(Settings.load())
        return _default


def ask(question: str, history: History | None = None, **options: Any) -> Answer:
    """Answer a question from the seed articles; see :meth:`qa.pipeline.Pipeline.ask`."""
    return default_pipeline().ask(question, history=history, **options)


def __getattr__(name: str) -> Any:
    if name == "Pipeline":
        from qa.pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
