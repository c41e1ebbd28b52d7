"""The app's own settings: who may use it, what a request may carry, how many questions it
answers at once, and where the chat's records live. They live with the UI (:mod:`ui.exposure`,
:mod:`ui.store`); everything else is :class:`core.settings.Settings`, which this extends.

One object still: the app reads :class:`AppSettings` once at the edge (``AppSettings.load()``,
the same ``QA_`` variables and ``.env``) and passes it to the pipeline as its settings.

    >>> AppSettings(max_upload_bytes=0).max_upload_bytes
    0
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from core.settings import Settings


class AppSettings(Settings):
    """:class:`core.settings.Settings` and the knobs of serving the app."""

    concurrency: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Questions the app answers at once (each of /chat and /ask); more wait in Gradio's queue. "
        "Answering holds no global lock: questions share only the read-only index and models",
    )

    # --- serving the app (ui/exposure.py): who may use it and what a request may carry
    auth: SecretStr | None = Field(
        default=None,
        description="Log-ins the app asks for, 'user:password', several separated by commas (a password "
        "with a comma goes in auth_file). Kept secret: never logged or shown in an error",
    )
    auth_file: Path | None = Field(
        default=None,
        description="A file of 'user:password' lines, read at start ('#' comments and blank lines skipped); "
        "adds to auth",
    )
    allow_unauthenticated: bool = Field(
        default=False,
        description="Serve on a non-loopback address without a log-in: anyone who reaches the port can use "
        "the app. Without it (or auth) `python app.py --host 0.0.0.0` refuses to start",
    )
    trusted_hosts: Annotated[list[str], NoDecode] = Field(
        default=["localhost", "127.0.0.1", "::1"],
        description="Host header names the app answers to, comma-separated (the port is ignored); the "
        "address it is bound to is added. '*.example.org' takes the subdomains; '*' takes any name, which "
        "lets another site's page reach the app through DNS rebinding",
    )
    # The longest request the page sends is a question (max_question_chars) with the whole chat so
    # far: each answer's HTML with its sources and passages, about 9 KB a turn as JSON (measured in
    # tests/test_exposure.py). 2 MB holds some 200 turns; a body past it is refused with 413.
    max_request_bytes: int = Field(
        default=2_000_000,
        ge=65_536,
        description="Largest request body accepted, in bytes (413 past it); an upload has its own limit",
    )
    # The document library (ui/library.py) stores uploads under seeds_dir/uploads/. 0 turns uploads off:
    # Gradio's upload route answers 403 and the page shows no upload button.
    max_upload_bytes: int = Field(
        default=10_000_000,
        ge=0,
        description="Largest file the document library takes, in bytes (413 past it; 0: no uploads)",
    )
    request_body_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds a request's body may take to arrive whole (408 past it: a client that "
        "announces a body and sends it slowly does not hold a connection open)",
    )
    login_free_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Failed log-ins an account or a client address may make before each further one "
        "locks it for twice as long as the last (1 s, 2 s, 4 s ... 5 min; 429 meanwhile)",
    )
    # Files a client sent to Gradio's upload route wait in its folder until the upload event adds
    # them (and removes Gradio's copy); ones never added expire after UPLOAD_FILES_EXPIRE seconds.
    max_upload_folder_bytes: int = Field(
        default=100_000_000,
        ge=0,
        description="Most bytes Gradio's upload folder holds of files sent and not yet added (507 past it)",
    )

    # --- the chat's own records (ui/store.py)
    chat_db: Path | None = Field(
        default=None,
        description="The SQLite file of saved conversations and answer feedback; default: DATA_DIR/app.sqlite3",
    )

    @field_validator("trusted_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        """``"a.org, b.org"`` (as the environment gives it) → ``["a.org", "b.org"]``."""
        if isinstance(value, str):
            return [host for host in value.replace(",", " ").split() if host]
        return value

    @property
    def resolved_chat_db(self) -> Path:
        """The conversations and feedback file: ``chat_db``, or ``data_dir/app.sqlite3``."""
        return self.chat_db or self.data_dir / "app.sqlite3"

    @classmethod
    def of(cls, settings: Settings) -> AppSettings:
        """``settings`` as app settings: itself when it is one, else its values with the app's own
        read from the environment (or their defaults)."""
        if isinstance(settings, AppSettings):
            return settings
        return cls.load(**settings.model_dump(exclude_unset=True))
