"""The configurations an evaluation compares, and the systems that answer for them.

Built in (``--compare default,dense,bm25,previous,score-rule,baseline,llm``):

- ``default``: the project's settings as they stand (environment and ``.env`` included);
- ``dense`` / ``bm25``: the same with ``retrieval_mode`` dense-only or BM25-only;
- ``previous``: the previous default, without the reader (``reader=false``), to compare against;
- ``score-rule``: the abstention rule the project had before the learned model (``abstention="score"``);
- ``baseline``: the LangChain tutorial pipeline of :mod:`qa.eval.baseline`;
- ``llm``: the same as ``default`` with the LLM answerer (``Settings.llm``'s backend), usable only
  when that backend is installed (the ``llm`` extra); asking for it otherwise is a
  :class:`ConfigurationError` that says what to install.

More can be listed in a JSON file (``--configs FILE``) as overrides of the project settings::

    [{"name": "small-chunks", "description": "400-char chunks",
      "settings": {"chunk_size": 400, "chunk_overlap": 100}},
     {"name": "top3", "settings": {"top_k": 3}}]

A configuration whose chunking or embedding model differs from the project's gets its own index,
built (incrementally) under ``DATA_DIR/eval/index-<name>``. Any configuration whose answerer needs
an LLM (``"settings": {"answerer": "llm"}``) is checked the same way as the built-in ``llm``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import ValidationError

from core.errors import QAError
from core.settings import Settings
from qa.schema import Answer, Passage

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from qa.followup import History

INDEX_FIELDS = (
    "chunk_size",
    "chunk_overlap",
    "embedding_model",
    "embedding_runtime",
    "seeds_dir",
    "collection",
)
# Where things live differ between machines; every other setting is recorded with the results.
UNRECORDED_FIELDS = {"seeds_dir", "data_dir", "index_dir", "embedding_model", "chroma_host", "chroma_port"}


class ConfigurationError(QAError):
    """A configuration is unknown or its settings are invalid."""


class System(Protocol):
    """What the runner asks questions of: a :class:`qa.pipeline.Pipeline` or the baseline."""

    def ask(self, question: str, history: History | None = None) -> Answer: ...

    def retrieve(self, question: str, *, top_k: int | None = None) -> list[Passage]: ...


@dataclass(frozen=True)
class Configuration:
    """A named way of answering: overrides of the project settings, or the baseline."""

    name: str
    description: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    kind: Literal["pipeline", "baseline"] = "pipeline"


BUILTIN: dict[str, Configuration] = {
    c.name: c
    for c in (
        Configuration("default", "the project's settings: hybrid retrieval, extractive cited answers"),
        Configuration(
            "dense", "the project with dense (embedding) retrieval only", {"retrieval_mode": "dense"}
        ),
        Configuration("bm25", "the project with BM25 retrieval only", {"retrieval_mode": "bm25"}),
        Configuration(
            "baseline",
            "LangChain tutorial: 1,000/200 recursive chunks, Chroma dense top-4, top chunk as answer",
            kind="baseline",
        ),
        Configuration(
            "previous",
            "the previous default: no reader; the confidence from hand-made similarity features",
            {"reader": False},
        ),
        Configuration(
            "score-rule",
            "the rule before the learned confidence: refuse when the best sentence scores below 0.30 "
            "or the question names something no article mentions",
            {"abstention": "score", "reader": False},
        ),
        Configuration(
            "torch",
            "the project with the PyTorch (sentence-transformers) MiniLM instead of the int8 ONNX one",
            {"embedding_runtime": "torch"},
        ),
        Configuration(
            "llm",
            "the project with the LLM answerer: the LLM writes [n]-cited sentences, each judged, "
            "unsupported ones dropped, the extractive answer when too little survives",
            {"answerer": "llm"},
        ),
    )
}
# The fast configurations CI compares; `llm` is asked for by name (it takes about an hour).
DEFAULT_COMPARE = "default,dense,bm25,baseline"


def load_configurations(path: Path) -> dict[str, Configuration]:
    """Configurations listed in a JSON file (see the module docstring), by name."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        found = {}
        for entry in entries:
            config = Configuration(
                name=str(entry["name"]),
                description=str(entry.get("description", "")),
                settings=dict(entry.get("settings", {})),
                kind=entry.get("kind", "pipeline"),
            )
            found[config.name] = config
    except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise ConfigurationError(
            f"Cannot read configurations from {path} ({type(error).__name__}: {error}); "
            'expected a JSON list of {"name": ..., "settings": {...}}'
        ) from error
    return found


def unusable(config: Configuration, base: Settings) -> str | None:
    """Why ``config`` cannot run on this installation (its answerer needs an LLM that is not
    installed), or ``None`` when it can. Nothing is loaded to find out."""
    from qa.registry import NEEDS_LLM, llm_configured

    if config.kind != "pipeline" or config.settings.get("answerer", base.answerer) not in NEEDS_LLM:
        return None
    settings = settings_for(config, base)
    if llm_configured(settings.llm):
        return None
    from qa.llm import INSTALL_HINT

    return (
        f"Configuration {config.name!r} answers with an LLM, and QA_LLM={settings.llm!r} is not available "
        f"here: {INSTALL_HINT}, or set QA_LLM to a server (openai:MODEL, ollama:MODEL)"
    )


def select(names: str, known: dict[str, Configuration], base: Settings | None = None) -> list[Configuration]:
    """The configurations named in a comma-separated list, in its order.

    With ``base``, a configuration this installation cannot run (:func:`unusable`) is an error, and
    left out of the names listed as known.
    """
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in known]
    if unknown or not chosen:
        usable = [n for n, c in known.items() if base is None or unusable(c, base) is None]
        raise ConfigurationError(f"Unknown configuration(s) {unknown or names!r}; known: {', '.join(usable)}")
    selected = [known[n] for n in dict.fromkeys(chosen)]
    if base is not None:
        for config in selected:
            if reason := unusable(config, base):
                raise ConfigurationError(reason)
    return selected


def settings_for(config: Configuration, base: Settings) -> Settings:
    """The project settings with the configuration's overrides, validated.

    A configuration that changes how the index is built gets an index folder of its own.
    """
    overrides = dict(config.settings)
    if (
        any(k in overrides and overrides[k] != getattr(base, k) for k in INDEX_FIELDS)
        and "index_dir" not in overrides
    ):
        overrides["index_dir"] = base.data_dir / "eval" / f"index-{config.name}"
    try:
        return Settings.model_validate({**base.model_dump(), **overrides})
    except ValidationError as error:
        raise ConfigurationError(f"Configuration {config.name!r} has invalid settings: {error}") from error


def describe(config: Configuration, settings: Settings, system: System) -> dict[str, Any]:
    """The configuration as recorded in the report: what was compared, with which knobs."""
    record: dict[str, Any] = {"name": config.name, "kind": config.kind, "description": config.description}
    from qa.eval.baseline import TutorialBaseline

    if isinstance(system, TutorialBaseline):
        record["settings"] = system.describe()
    else:
        from qa.registry import judge_name

        record["settings"] = settings.model_dump(mode="json", exclude=UNRECORDED_FIELDS)
        record["overrides"] = config.settings
        # The judge the pipeline itself verified (and dropped) sentences with, to set beside the
        # judge that scored the citations: where the two are the same, the scores are partly
        # a self-consistency check.
        record["verifier"] = judge_name(settings, settings.answerer)
    return record


def open_system(
    config: Configuration, base: Settings, embeddings: Embeddings, model_id: str
) -> tuple[System, Settings]:
    """A ready system for ``config``: its index built or brought up to date, and loaded."""
    settings = settings_for(config, base)
    if config.kind == "baseline":
        from qa.eval.baseline import TutorialBaseline

        baseline = TutorialBaseline(
            settings.seeds_dir, settings.data_dir / "eval" / "baseline", embeddings, model_id
        )
        baseline.load()
        return baseline, settings

    from index.build import build_index
    from qa.pipeline import Pipeline

    own_model = (settings.resolved_embedding_model, settings.embedding_runtime) != (
        base.resolved_embedding_model,
        base.embedding_runtime,
    )
    model = None if own_model else embeddings
    if settings.chroma_host is None:
        # Brings the index in line with the seeds; a no-op (nothing written) when it already is.
        build_index(settings, embeddings=model, rebuild_mismatch=True)
    pipeline = Pipeline(settings, embeddings=model)
    pipeline.load()
    return pipeline, settings
