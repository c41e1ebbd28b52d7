"""Where answerers and support judges are made: factories from :class:`Settings`, in one place.

    ANSWERERS["mine"] = lambda settings, models: MyAnswerer(models.llm(settings.llm))

A factory takes the settings and the :class:`Models` (the embedder and the LLM backends, each
loaded once and shared), and returns the component. ``llm`` is listed as available only when its
backend is configured and installed (:func:`available_answerers`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import TYPE_CHECKING

from core.errors import InvalidOptionError, LLMUnavailableError, UnknownJudgeError
from core.settings import Settings

if TYPE_CHECKING:
    from pathlib import Path

    from qa.answer import Answerer
    from qa.generative import LLMRewriter
    from qa.llm import LLM
    from qa.reader import Reader
    from qa.verify import Embed, SupportJudge


@dataclass
class Models:
    """The models components share: the sentence embedder, and LLM backends made on first use."""

    settings: Settings
    embed: Embed
    llms: dict[str, LLM] = field(default_factory=dict)
    readers: dict[Path, Reader] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def llm(self, spec: str | None = None, role: str = "answer") -> LLM:
        """The backend ``spec`` names (default ``Settings.llm``), made once per ``role``.

        An in-process model gets one instance per role (the weights are memory-mapped and
        shared; each has its own context): the judge checks a sentence while the answerer's stream
        is paused mid-answer, and one llama.cpp context cannot do both. A server is shared.
        """
        from qa.llm import IN_PROCESS, make_llm, parse_spec

        spec = spec or self.settings.llm
        key = f"{spec}#{role}" if parse_spec(spec)[0] in IN_PROCESS and role != "answer" else spec
        with self._lock:
            if key not in self.llms:
                self.llms[key] = make_llm(spec, self.settings)
            return self.llms[key]

    def reader(self, model_dir: Path | None = None) -> Reader:
        """The reader of ``model_dir`` (default ``Settings.reader_model``'s), loaded once."""
        from qa.reader import load_reader

        model_dir = model_dir or self.settings.resolved_reader_model
        with self._lock:
            if model_dir not in self.readers:
                self.readers[model_dir] = load_reader(model_dir)
            return self.readers[model_dir]


AnswererFactory = Callable[[Settings, Models], "Answerer"]
JudgeFactory = Callable[[Settings, Models], "SupportJudge"]


def _extractive(settings: Settings, models: Models) -> Answerer:
    from qa.extractive.answerer import ExtractiveAnswerer

    reader = models.reader(settings.resolved_reader_model) if settings.reader else None
    return ExtractiveAnswerer(reader, settings.reader_candidates)


def _llm_answerer(settings: Settings, models: Models) -> Answerer:
    from qa.generative import LLMAnswerer
    from qa.prompts import load_prompt

    return LLMAnswerer(models.llm(settings.llm), load_prompt("answer"), settings.llm_passages)


def _overlap(settings: Settings, models: Models) -> SupportJudge:
    from qa.verify import OverlapJudge

    return OverlapJudge(embed=models.embed)


def _llm_judge(settings: Settings, models: Models) -> SupportJudge:
    from qa.prompts import load_prompt
    from qa.verify import LLMJudge

    return LLMJudge(
        models.llm(settings.judge_llm or settings.llm, role="judge"),
        load_prompt("judge"),
        settings.llm_judge_threshold,
    )


ANSWERERS: dict[str, AnswererFactory] = {"extractive": _extractive, "llm": _llm_answerer}
JUDGES: dict[str, JudgeFactory] = {"overlap": _overlap, "llm": _llm_judge}
NEEDS_LLM = {"llm"}  # components that exist only when an LLM backend is configured


def rewriter(settings: Settings, models: Models) -> LLMRewriter:
    """The follow-up rewriter over the answering LLM."""
    from qa.generative import LLMRewriter
    from qa.prompts import load_prompt

    return LLMRewriter(models.llm(settings.llm), load_prompt("rewrite"))


def llm_configured(spec: str) -> bool:
    """Whether the backend ``spec`` names is installed (a server's reachability is not checked)."""
    from qa.llm import local_available, parse_spec

    try:
        kind, _ = parse_spec(spec)
    except LLMUnavailableError:
        return False
    if kind == "local":
        return local_available()
    module = {"gguf": "llama_cpp", "openai": "langchain_openai", "ollama": "langchain_ollama"}[kind]
    return find_spec(module) is not None


def available_answerers(settings: Settings) -> list[str]:
    """The answerers this installation can use, the default first."""
    names = [n for n in ANSWERERS if n not in NEEDS_LLM or llm_configured(settings.llm)]
    return sorted(names, key=lambda n: n != settings.answerer)


def judge_name(settings: Settings, answerer: str) -> str:
    """The judge for an answer by ``answerer``: ``Settings.judge``, where ``auto`` is the LLM judge
    for LLM answers (when an LLM is configured) and the overlap judge for the others."""
    if settings.judge != "auto":
        return settings.judge
    return (
        "llm" if answerer in NEEDS_LLM and llm_configured(settings.judge_llm or settings.llm) else "overlap"
    )


def make_answerer(name: str, settings: Settings, models: Models) -> Answerer:
    if name not in ANSWERERS:
        raise InvalidOptionError(
            f"Unknown answerer {name!r}; available: {', '.join(available_answerers(settings))}", "answerer"
        )
    return ANSWERERS[name](settings, models)


def make_judge(name: str, settings: Settings, models: Models) -> SupportJudge:
    if name not in JUDGES:
        raise UnknownJudgeError(f"No support judge named {name!r}; available: {', '.join(JUDGES)}")
    return JUDGES[name](settings, models)
