"""The project's exceptions: one base class, one subclass per thing that can go wrong.

Messages say what happened and what to do next. Only the edges (the CLIs and the UI) turn them
into user-facing text; library code raises them and lets them travel.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class of every error this project raises on purpose."""


class InvalidQuestionError(QAError, ValueError):
    """The question is empty, blank or too long."""


class SeedError(QAError):
    """A seed file could not be read or decoded."""


class NoSeedsError(QAError):
    """The seeds folder is missing or holds no readable documents."""


class IndexMissingError(QAError):
    """No index has been built yet."""


class IndexCorruptError(QAError):
    """The index or its manifest cannot be read."""


class IndexBusyError(QAError):
    """Another build of the same index is running."""


class IndexReadOnlyError(QAError):
    """The index folder cannot be written: it can be served, not built."""


class IndexWriteError(QAError):
    """Writing a new index generation failed (a full disk, say); the served one is unchanged."""


class IndexMismatchError(QAError):
    """The index was built with other settings (embedding model, chunking) than the ones in use."""


class EmbeddingModelError(QAError):
    """The embedding model cannot be found or loaded from its local directory."""


class UnknownSourceError(QAError, KeyError):
    """A document name does not name a document in the index."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return str(self.args[0]) if self.args else ""


class PromptError(QAError):
    """A prompt template is missing, malformed, or filled with other variables than it declares."""


class LLMError(QAError):
    """The LLM backend could not answer; the pipeline falls back to the extractive answer."""


class LLMUnavailableError(LLMError):
    """No LLM is configured or installed, its model file is missing, or its server cannot be reached."""


class LLMTimeoutError(LLMError):
    """The LLM backend took longer than ``QA_LLM_TIMEOUT`` seconds."""


class LLMContextError(LLMError):
    """The prompt does not fit the model's context window."""


class UnknownJudgeError(QAError):
    """No support judge is registered under the name asked for."""


class CredentialsError(QAError):
    """``QA_AUTH`` or ``QA_AUTH_FILE`` cannot be read or holds a malformed entry."""


class UnprotectedBindError(QAError):
    """The app is asked to listen on a non-loopback address with no log-in and no waiver."""
