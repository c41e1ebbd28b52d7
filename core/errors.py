"""The project's exceptions: one base class, one subclass per thing that can go wrong.

Messages say what happened and what to do next. Only the edges (the CLIs and the UI) turn them
into user-facing text; library code raises them and lets them travel.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class of every error this project raises on purpose."""


class InvalidRequestError(QAError, ValueError):
    """A request (question, history or option) that cannot be answered as sent.

    ``field`` names what to change (``"question"``, ``"history"``, ``"top_k"``, ``"mode"``,
    ``"answerer"``, ``"sources"``); the message says how. Every entry point reports both: the CLI
    on one line, ``/ask`` as ``{"error": {"field": ..., "message": ...}}``, the chat as a message.
    """

    field: str | None = None

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field

    def __str__(self) -> str:  # KeyError (a base of UnknownSourceError) would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidQuestionError(InvalidRequestError):
    """The question is not text, is empty or blank, too long, or holds characters no text has."""

    field = "question"


class InvalidHistoryError(InvalidRequestError):
    """The conversation history is not a list of (role, text) turns, or is too long."""

    field = "history"


class InvalidOptionError(InvalidRequestError):
    """An option (``top_k``, ``mode``, ``answerer``, ``sources``) is of the wrong type or out of bounds."""


class ModelFileError(QAError):
    """The answerability model file is missing or not one this version can read."""


class SettingsError(QAError, ValueError):
    """A setting (a ``QA_`` variable, ``.env`` or an argument) has a value it cannot take."""


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


class DiskFullError(IndexWriteError):
    """The disk holding the index is full: nothing new is indexed until space is freed."""


class IndexMismatchError(QAError):
    """The index was built with other settings (embedding model, chunking) than the ones in use."""


class EmbeddingModelError(QAError):
    """The embedding model cannot be found or loaded from its local directory."""


class UnknownSourceError(InvalidOptionError, KeyError):
    """A document name does not name a document in the index."""

    field = "sources"


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


class UploadError(QAError):
    """A file given to the document library cannot become a seed (the message says what to do)."""


class UploadTooLargeError(UploadError):
    """An uploaded file is over ``QA_MAX_UPLOAD_BYTES``."""


class UnsupportedUploadError(UploadError):
    """An uploaded file is of a type the library does not take, or not what its name says."""


class EmptyUploadError(UploadError):
    """An uploaded file holds no text: empty, nothing left after extraction, a PDF without a text layer."""


class NotRemovableError(UploadError):
    """A document the library may not remove: not an uploaded one, or not there."""
