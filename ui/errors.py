"""The errors of the app itself: its log-in, where it listens, its conversations file."""

from __future__ import annotations

from core.errors import QAError


class CredentialsError(QAError):
    """``QA_AUTH`` or ``QA_AUTH_FILE`` cannot be read or holds a malformed entry."""


class UnprotectedBindError(QAError):
    """The app is asked to listen on a non-loopback address with no log-in and no waiver."""


class ChatStoreError(QAError):
    """The conversations file (``QA_CHAT_DB``) is of a newer schema, or names no such conversation."""
