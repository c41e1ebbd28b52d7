"""The chat's own records in one SQLite file (``AppSettings.resolved_chat_db``, by default
``data/app.sqlite3``): conversations, their messages, and the feedback given on answers.

    python -m ui.store export-feedback out.jsonl     # one JSON line per rating, for the evaluation
    python -m ui.store export-feedback out.jsonl --db /tmp/qa/app.sqlite3

Each thread has its own connection (WAL, so the page's readers never wait on a writer); every
change is one transaction. A feedback row keeps its own copy of the question, history and answer,
so it outlives the message it rates (regenerated or deleted). What it does not do: render, or
decide what is saved; ui/conversations.py does.

A file that cannot be written (a read-only data folder) is copied to the temporary folder and the
copy used: the conversations saved before are there, and this run's are kept until the app stops
(the copy is removed then), not saved. ``ChatStore.notice``
says so in plain words, for the page and the log.

A damaged file (not a database, truncated, malformed pages), found when it is opened (SQLite's
quick check) or by any read or write later, is moved aside with its WAL and shared-memory files
(``app.sqlite3.damaged-<time>``, kept for whoever wants to recover it) and an empty file started;
``notice`` says so. A read that found it answers from the empty file; a write raises
:class:`~ui.errors.ChatStoreError`, saying so (what it would have changed is gone with the file).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ui.errors import ChatStoreError

log = logging.getLogger(__name__)

_Method = TypeVar("_Method", bound=Callable[..., Any])

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    turns TEXT NOT NULL DEFAULT '[]'          -- the pipeline's history: [["user", q], ["assistant", a]]
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,                -- its index in the Chatbot's value
    role TEXT NOT NULL,                       -- "user" or "assistant"
    html TEXT NOT NULL,                       -- what the chat shows
    text TEXT NOT NULL DEFAULT '',            -- the question, or the answer's text with [n] markers
    history TEXT,                             -- an answer's: the turns sent with its question (JSON)
    answer TEXT,                              -- an answer's: Answer.to_dict() (JSON)
    elapsed REAL,                             -- an answer's: seconds from question to answer
    answerer TEXT,
    created REAL NOT NULL,
    UNIQUE (conversation_id, position)
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    conversation_id TEXT,
    rating TEXT NOT NULL,                     -- "up" or "down"
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    history TEXT NOT NULL,                    -- JSON
    answer TEXT,                              -- JSON (Answer.to_dict()), null for an error message
    answer_text TEXT NOT NULL,
    answerer TEXT,
    index_generation TEXT,
    created REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    created: float
    updated: float
    turns: list[list[str]]


@dataclass(frozen=True)
class Message:
    id: int
    position: int
    role: str
    html: str
    text: str
    history: list[list[str]] | None
    answer: dict[str, Any] | None
    elapsed: float | None
    answerer: str | None


def _on_damage(*, writes: bool) -> Callable[[_Method], _Method]:
    """A method that finds the file damaged sets it aside (see the module docstring); then a read
    reads the empty one started instead, and a write raises ChatStoreError, saying so."""

    def wrap(method: _Method) -> _Method:
        @functools.wraps(method)
        def call(self: ChatStore, *args: Any, **kwargs: Any) -> Any:
            seen = self.damaged
            try:
                return method(self, *args, **kwargs)
            except sqlite3.DatabaseError as error:
                if not _is_damaged(error):
                    raise
                self._damaged_while_serving(error, seen)
            if writes:
                raise ChatStoreError(f"{self.notice} This change was not saved.")
            return method(self, *args, **kwargs)

        return call  # type: ignore[return-value]

    return wrap


_reading = _on_damage(writes=False)
_writing = _on_damage(writes=True)


class ChatStore:
    """Conversations, messages and feedback in one SQLite file, created on first use (see the
    module docstring for a file that cannot be written)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.notice = ""  # why the records are not saved as usual, in plain words; "" when they are
        self._local = threading.local()
        self._lock = threading.Lock()  # the schema is created once, by one thread
        self.saved_to = self.path  # the file written: a private copy when ``path`` cannot be
        self.damaged = 0  # how many times a damaged file was set aside (see the module docstring)
        with self._lock:
            try:
                self._check()  # first: a damaged file is set aside as it was found, not written to
                self._open()
            except sqlite3.DatabaseError as error:
                if not _is_damaged(error):
                    raise
                self._set_aside(error)

    def _open(self) -> None:
        """Prepare the file, or when it cannot be written use a private copy (module docstring)."""
        try:
            self.saved_to.parent.mkdir(parents=True, exist_ok=True)
            self._prepare(self._conn())
        except (OSError, sqlite3.OperationalError) as error:
            if not _cannot_write(error, self.saved_to):
                raise
            self._use_a_copy(error)

    def _check(self) -> None:
        """Raise SQLite's error for a damaged file: its quick check reads every page, read-only."""
        if not self.saved_to.is_file():
            return
        conn = None
        try:
            conn = sqlite3.connect(f"{self.saved_to.as_uri()}?mode=ro", uri=True)
            found = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        except sqlite3.DatabaseError as error:
            if _is_damaged(error):
                raise
            return  # it cannot be opened to look: opening it to write says why
        finally:
            if conn is not None:
                conn.close()
        if found != "ok":
            damaged = sqlite3.DatabaseError(f"database disk image is malformed ({found})")
            damaged.sqlite_errorcode = sqlite3.SQLITE_CORRUPT
            raise damaged

    def _set_aside(self, error: sqlite3.DatabaseError) -> None:
        """Move the damaged file (and its -wal and -shm) aside and start an empty one, saying so."""
        with contextlib.suppress(AttributeError, sqlite3.Error):
            self._local.conn.close()
        self._local = threading.local()  # every thread's connection to the damaged file is dropped
        self.damaged += 1
        damaged = self.saved_to.with_name(f"{self.saved_to.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while damaged.exists():
            n += 1
            damaged = damaged.with_name(f"{damaged.name.rsplit('~', 1)[0]}~{n}")
        try:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(f"{self.saved_to}{suffix}", f"{damaged}{suffix}")
        except OSError as cannot:
            log.warning("%s is damaged (%s) and cannot be moved aside: %s", self.saved_to, error, cannot)
            self._use_a_copy(cannot, copy=False)
            self.notice = (
                f"The conversations file {self.path} is damaged and cannot be read, nor moved aside "
                f"({cannot.strerror or cannot}): new conversations are kept until the app stops, not saved."
            )
            return
        self._open()
        self.notice = (
            f"The conversations file {self.path} was damaged and could not be read: it is kept as "
            f"{damaged}, and a new, empty one was started. The conversations saved before are not listed."
        )
        log.warning("%s (SQLite said: %s)", self.notice, error)

    def _damaged_while_serving(self, error: sqlite3.DatabaseError, seen: int) -> None:
        with self._lock:
            if self.damaged == seen:  # not set aside already, by another thread that found it too
                self._set_aside(error)

    def _prepare(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ChatStoreError(
                f"{self.path} has schema version {version}, this app reads up to {SCHEMA_VERSION}: "
                "update the app, or point QA_CHAT_DB at another file"
            )
        with conn:
            conn.executescript(SCHEMA)
            if version != SCHEMA_VERSION:  # set only when it changes: setting it writes the file
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _use_a_copy(self, error: BaseException, *, copy: bool = True) -> None:
        """Keep the records in a private copy of the file in the temporary folder (see the module
        docstring): what was saved before is read, this run's changes go to the copy (an empty
        file unless ``copy``)."""
        import atexit
        import shutil
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="qa-read-only-chat-"))
        atexit.register(shutil.rmtree, folder, True)
        private = folder / self.path.name
        for suffix in ("", "-wal") if copy else ():  # the log too: what was written last may be there
            with contextlib.suppress(FileNotFoundError):
                shutil.copyfile(f"{self.path}{suffix}", f"{private}{suffix}")
        self._local = threading.local()  # a connection opened to the file is not used again
        self.saved_to = private
        self._prepare(self._conn())
        why = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        self.notice = (
            f"The conversations file {self.path} cannot be written ({why}): the conversations saved "
            "before are shown, and new ones are kept until the app stops, not saved."
        )
        log.warning("%s", self.notice)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.saved_to, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # a damaged file may have ended it already
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # --- conversations

    @_writing
    def create(self, title: str) -> Conversation:
        now = time.time()
        conversation = Conversation(uuid.uuid4().hex, title.strip() or "New conversation", now, now, [])
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO conversations (id, title, created, updated, turns) VALUES (?, ?, ?, ?, '[]')",
                (conversation.id, conversation.title, now, now),
            )
        return conversation

    @_reading
    def get(self, conversation_id: str) -> Conversation | None:
        row = self._conn().execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is None:
            return None
        return Conversation(row["id"], row["title"], row["created"], row["updated"], json.loads(row["turns"]))

    @_reading
    def conversations(self) -> list[Conversation]:
        """Every conversation, the most recently used first."""
        rows = (
            self._conn().execute("SELECT * FROM conversations ORDER BY updated DESC, rowid DESC").fetchall()
        )
        return [
            Conversation(r["id"], r["title"], r["created"], r["updated"], json.loads(r["turns"]))
            for r in rows
        ]

    @_writing
    def rename(self, conversation_id: str, title: str) -> None:
        with self._transaction() as conn:
            found = conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ?",
                (title.strip() or "Untitled", conversation_id),
            ).rowcount
        if not found:
            raise ChatStoreError(f"No conversation {conversation_id!r} to rename")

    @_writing
    def delete(self, conversation_id: str) -> None:
        """The conversation and its messages; feedback given in it stays, for the evaluation."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # --- messages

    @_reading
    def messages(self, conversation_id: str) -> list[Message]:
        rows = (
            self._conn()
            .execute("SELECT * FROM messages WHERE conversation_id = ? ORDER BY position", (conversation_id,))
            .fetchall()
        )
        return [_message(row) for row in rows]

    @_reading
    def message_at(self, conversation_id: str, position: int) -> Message | None:
        row = (
            self._conn()
            .execute(
                "SELECT * FROM messages WHERE conversation_id = ? AND position = ?",
                (conversation_id, position),
            )
            .fetchone()
        )
        return None if row is None else _message(row)

    def save_exchange(
        self,
        conversation_id: str,
        start: int,
        messages: Sequence[dict[str, Any]],
        turns: list[list[str]],
    ) -> None:
        """Put ``messages`` at positions ``start``, ``start + 1``, ... (replacing whatever was
        there and after it: a regenerated answer), and the conversation's turns, in one transaction.

        A message is a dict of ``role``, ``html`` and optionally ``text``, ``history`` (turns),
        ``answer`` (``Answer.to_dict()``), ``elapsed``, ``answerer``.
        """
        now = time.time()
        with self._transaction() as conn:
            if (
                conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
                is None
            ):
                raise ChatStoreError(f"No conversation {conversation_id!r} to save messages in")
            conn.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND position >= ?", (conversation_id, start)
            )
            for offset, m in enumerate(messages):
                history = m.get("history")
                answer = m.get("answer")
                conn.execute(
                    "INSERT INTO messages (conversation_id, position, role, html, text, history, answer, "
                    "elapsed, answerer, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        conversation_id,
                        start + offset,
                        m["role"],
                        m["html"],
                        m.get("text", ""),
                        None if history is None else json.dumps(history),
                        None if answer is None else json.dumps(answer),
                        m.get("elapsed"),
                        m.get("answerer"),
                        now,
                    ),
                )
            conn.execute(
                "UPDATE conversations SET turns = ?, updated = ? WHERE id = ?",
                (json.dumps(turns), now, conversation_id),
            )

    # --- feedback

    @_writing
    def add_feedback(self, message: Message, conversation_id: str, rating: str, comment: str = "") -> int:
        """Rate an assistant message ``"up"`` or ``"down"``; the row's id, to add a comment later."""
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        answer = message.answer or {}
        history = message.history or []
        question = answer.get("question") or _question_before(
            self.messages(conversation_id), message.position
        )
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO feedback (message_id, conversation_id, rating, comment, question, history, answer, "
                "answer_text, answerer, index_generation, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message.id,
                    conversation_id,
                    rating,
                    comment,
                    question,
                    json.dumps(history),
                    json.dumps(message.answer) if message.answer is not None else None,
                    message.text,
                    message.answerer,
                    answer.get("index_generation"),
                    time.time(),
                ),
            )
        return int(cursor.lastrowid or 0)

    @_writing
    def comment(self, feedback_id: int, comment: str) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE feedback SET comment = ? WHERE id = ?", (comment.strip(), feedback_id))

    @_reading
    def feedback(self) -> list[dict[str, Any]]:
        """Every rating, oldest first, as the export writes it: question, history, answer_text,
        citations, rating, comment, time (ISO 8601, UTC), answerer, index_generation, answer."""
        rows = self._conn().execute("SELECT * FROM feedback ORDER BY id").fetchall()
        out = []
        for row in rows:
            answer = json.loads(row["answer"]) if row["answer"] else None
            out.append(
                {
                    "question": row["question"],
                    "history": json.loads(row["history"]),
                    "answer_text": row["answer_text"],
                    "citations": (answer or {}).get("citations", []),
                    "rating": row["rating"],
                    "comment": row["comment"],
                    "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row["created"])),
                    "answerer": row["answerer"],
                    "index_generation": row["index_generation"],
                    "answer": answer,
                }
            )
        return out

    def export_feedback(self, target: Path) -> int:
        """Write every rating as one JSON line to ``target`` (replaced whole); how many."""
        rows = self.feedback()
        partial = target.with_name(target.name + ".partial")
        partial.write_text(
            "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
        )
        partial.replace(target)
        return len(rows)


def _cannot_write(error: BaseException, path: Path) -> bool:
    """Whether ``error`` (opening or preparing ``path``) is a file or folder that cannot be
    written: read-only, or on a full disk."""
    if isinstance(error, OSError):
        return True
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_FULL):
        return True
    where = path if path.exists() else path.parent
    return not os.access(where, os.W_OK)  # a read-only mount says so even to root


def _is_damaged(error: BaseException) -> bool:
    """Whether ``error`` says the file is not a database or its pages are malformed."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _message(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"],
        position=row["position"],
        role=row["role"],
        html=row["html"],
        text=row["text"],
        history=json.loads(row["history"]) if row["history"] else None,
        answer=json.loads(row["answer"]) if row["answer"] else None,
        elapsed=row["elapsed"],
        answerer=row["answerer"],
    )


def _question_before(messages: Sequence[Message], position: int) -> str:
    """The text of the last user message before ``position`` (the question an error message answers)."""
    asked = [m.text for m in messages if m.role == "user" and m.position < position]
    return asked[-1] if asked else ""


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ui.store", description="The chat's saved records.")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export-feedback", help="write the answers' ratings as JSON lines")
    export.add_argument("target", type=Path)
    export.add_argument(
        "--db", type=Path, help="the SQLite file (default: QA_CHAT_DB or DATA_DIR/app.sqlite3)"
    )
    args = parser.parse_args(argv)
    if args.db is None:
        from ui.settings import AppSettings

        args.db = AppSettings.load().resolved_chat_db
    if not args.db.exists():
        raise SystemExit(f"error: {args.db} does not exist: nothing has been rated yet (or pass --db)")
    count = ChatStore(args.db).export_feedback(args.target)
    print(f"{count} ratings written to {args.target}")


if __name__ == "__main__":
    main()
