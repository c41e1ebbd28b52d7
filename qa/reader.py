"""The reader: a small model that reads a question and one candidate sentence together and scores
"this sentence answers the question".

The extractive answerer ranks sentences by how close they are to the question; the reader then
reads the best few of them with the question and re-ranks them, and its score of the chosen one is
what the answerability model (:mod:`qa.confidence`) turns into the stated confidence.

What it reads for one candidate (:func:`pair_text`): the question, and the sentence followed by
the one before it (the context a pronoun needs). The default reader is the packaged all-MiniLM-L6-v2
fine-tuned as a cross-encoder on learn splits only and quantised to int8 ONNX
(``qa/models/reader/``, made by ``python -m qa.train_reader``); it runs on onnxruntime, without
PyTorch, in a few milliseconds per candidate on 2 cores.

    >>> pair_text("Who?", "He said so.", "Kim spoke.")
    ('Who?', 'He said so. [SEP] Kim spoke.')
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from core.errors import ModelFileError
from core.settings import PACKAGED_READER_MODEL

MAX_LENGTH = 160  # tokens of question + sentence + context the reader reads


def pair_text(question: str, sentence: str, previous: str) -> tuple[str, str]:
    """What the reader reads for one candidate: the question, and the sentence with the one before it."""
    return question, f"{sentence} [SEP] {previous}" if previous else sentence


class Reader(Protocol):
    """Scores candidate sentences for one question: the log-odds that each answers it."""

    name: str

    def logits(self, question: str, candidates: Sequence[tuple[str, str]]) -> list[float]:
        """One log-odds per ``(sentence, previous sentence)`` of ``candidates``, in their order."""
        ...


def probability(logit: float) -> float:
    """The probability of log-odds ``logit`` (the logistic function, safe for any value)."""
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, logit))))


class OnnxReader:
    """The cross-encoder of ``model_dir`` (``model.onnx``, ``tokenizer.json``, ``reader.json``) on
    onnxruntime."""

    def __init__(self, model_dir: Path, threads: int | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model_file, tokenizer_file, info_file = (
            model_dir / "model.onnx",
            model_dir / "tokenizer.json",
            model_dir / "reader.json",
        )
        for needed in (model_file, tokenizer_file, info_file):
            if not needed.is_file():
                raise ModelFileError(
                    f"The reader model is incomplete: {needed} is missing. Run `python -m qa.train_reader "
                    "export` to make it, or unset QA_READER_MODEL"
                )
        try:
            self.info = json.loads(info_file.read_text(encoding="utf-8"))
            max_length = int(self.info.get("max_length", MAX_LENGTH))
        except (OSError, ValueError) as error:
            raise ModelFileError(f"Cannot read the reader's description {info_file}: {error}") from error
        self.name = str(self.info.get("name", model_dir.name))
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(max_length=max_length, strategy="only_second")
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self._session = onnxruntime.InferenceSession(
                str(model_file), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped errors for a bad file
            raise ModelFileError(f"Cannot load the reader model {model_file}: {error}") from error
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()  # the tokenizer's padding state is shared

    def logits(self, question: str, candidates: Sequence[tuple[str, str]]) -> list[float]:
        if not candidates:
            return []
        import numpy as np

        pairs = [pair_text(question, sentence, previous) for sentence, previous in candidates]
        with self._lock:
            encoded = self._tokenizer.encode_batch(pairs)
        feed = {
            "input_ids": np.asarray([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encoded], dtype=np.int64),
        }
        (output,) = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})
        return [float(v) for v in np.asarray(output).reshape(-1)]


@lru_cache(maxsize=2)
def load_reader(model_dir: Path = PACKAGED_READER_MODEL) -> OnnxReader:
    """The reader of ``model_dir``, loaded once per process."""
    return OnnxReader(Path(model_dir))
