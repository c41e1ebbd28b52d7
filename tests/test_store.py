"""The chat's SQLite records (ui/store.py): conversations, messages, feedback and its export.
Fast: no model, a file in tmp_path.

    python -m pytest tests/test_store.py -q
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from ui.errors import ChatStoreError
from ui.store import SCHEMA_VERSION, ChatStore

ANSWER = {
    "question": "Who reported 12,000 troops?",
    "text": "Ukrainian intelligence places the number at 12,000. [1]",
    "citations": [
        {"n": 1, "source": "001.txt", "quote": "Ukrainian intelligence places the number at 12,000."}
    ],
    "answerer": "extractive",
    "index_generation": "g7",
}


def exchange(question: str, answer: dict | None = None, history: list | None = None) -> list[dict]:
    reply = {"role": "assistant", "html": "<div>answer</div>", "text": (answer or {}).get("text", "")}
    if answer is not None:
        reply |= {"answer": answer, "history": history or [], "elapsed": 1.5, "answerer": answer["answerer"]}
    return [{"role": "user", "html": question, "text": question}, reply]


def test_conversation_round_trip(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "app.sqlite3")
    first = store.create("Troops")
    turns = [["user", ANSWER["question"]], ["assistant", ANSWER["text"]]]
    store.save_exchange(first.id, 0, exchange(ANSWER["question"], ANSWER), turns)

    reopened = ChatStore(tmp_path / "app.sqlite3")  # another process, later
    assert reopened.get(first.id).turns == turns
    messages = reopened.messages(first.id)
    assert [(m.position, m.role) for m in messages] == [(0, "user"), (1, "assistant")]
    assert (
        messages[1].answer == ANSWER and messages[1].elapsed == 1.5 and messages[1].answerer == "extractive"
    )
    assert reopened.get("nope") is None


def test_list_rename_delete(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "app.sqlite3")
    a, b = store.create("A"), store.create("B")
    store.save_exchange(a.id, 0, exchange("q"), [])  # a is used last: listed first
    assert [c.title for c in store.conversations()] == ["A", "B"]
    store.rename(b.id, "  Bee  ")
    assert store.get(b.id).title == "Bee"
    with pytest.raises(ChatStoreError):
        store.rename("missing", "x")
    store.delete(a.id)
    assert [c.id for c in store.conversations()] == [b.id]
    assert store.messages(a.id) == []  # its messages went with it
    with pytest.raises(ChatStoreError):
        store.save_exchange(a.id, 0, exchange("q"), [])


def test_regenerated_answer_replaces_the_last_one(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "app.sqlite3")
    c = store.create("C")
    store.save_exchange(c.id, 0, exchange("q1", ANSWER), [])
    store.save_exchange(c.id, 2, exchange("q2", ANSWER), [])
    store.save_exchange(c.id, 2, exchange("q2 again", ANSWER), [["user", "q2 again"]])
    assert [m.text for m in store.messages(c.id) if m.role == "user"] == ["q1", "q2 again"]
    assert len(store.messages(c.id)) == 4


def test_feedback_outlives_its_message_and_exports(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "app.sqlite3")
    c = store.create("C")
    history = [["user", "earlier"], ["assistant", "before"]]
    store.save_exchange(c.id, 0, exchange(ANSWER["question"], ANSWER, history), [])
    fid = store.add_feedback(store.message_at(c.id, 1), c.id, "down")
    store.comment(fid, " wrong number ")
    store.delete(c.id)

    out = tmp_path / "out.jsonl"
    assert store.export_feedback(out) == 1
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["rating"] == "down" and row["comment"] == "wrong number"
    assert row["question"] == ANSWER["question"] and row["history"] == history
    assert row["answer_text"] == ANSWER["text"] and row["citations"] == ANSWER["citations"]
    assert row["answerer"] == "extractive" and row["index_generation"] == "g7"
    assert row["time"].endswith("Z")


def test_rating_is_up_or_down(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "app.sqlite3")
    c = store.create("C")
    store.save_exchange(c.id, 0, exchange("q", ANSWER), [])
    with pytest.raises(ValueError):
        store.add_feedback(store.message_at(c.id, 1), c.id, "meh")
    assert store.feedback() == []


def test_feedback_on_an_error_message_names_the_question(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "app.sqlite3")
    c = store.create("C")
    store.save_exchange(c.id, 0, exchange("what broke?"), [])
    store.add_feedback(store.message_at(c.id, 1), c.id, "up")
    (row,) = store.feedback()
    assert row["question"] == "what broke?" and row["answer"] is None and row["citations"] == []


def test_schema_version_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite3"
    ChatStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ChatStoreError, match="schema version"):
        ChatStore(path)


def test_writers_in_threads(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "app.sqlite3")
    ids = [store.create(f"c{i}").id for i in range(8)]
    errors: list[BaseException] = []

    def write(cid: str) -> None:
        try:
            for n in range(10):
                store.save_exchange(cid, 2 * n, exchange(f"q{n}", ANSWER), [["user", f"q{n}"]])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(cid,)) for cid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(len(store.messages(cid)) == 20 for cid in ids)


def test_export_command(tmp_path: Path) -> None:
    db = tmp_path / "app.sqlite3"
    store = ChatStore(db)
    c = store.create("C")
    store.save_exchange(c.id, 0, exchange(ANSWER["question"], ANSWER), [])
    store.add_feedback(store.message_at(c.id, 1), c.id, "up", "good")
    out = tmp_path / "feedback.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "ui.store", "export-feedback", str(out), "--db", str(db)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "1 ratings" in done.stdout
    assert json.loads(out.read_text())["comment"] == "good"


WRITER = """
import sys
from pathlib import Path
from ui.store import ChatStore

store = ChatStore(Path(sys.argv[1]))
conversation = store.create("Written until killed")
print(conversation.id, flush=True)
n = 0
while True:
    question = f"question {n}"
    messages = [{"role": "user", "html": question, "text": question},
                {"role": "assistant", "html": "<p>answer</p>", "text": f"answer {n}"}]
    store.save_exchange(conversation.id, 2 * n, messages, [["user", question], ["assistant", f"answer {n}"]])
    print(n, flush=True)  # acknowledged: the transaction is committed
    n += 1
"""


def test_a_writer_killed_mid_write_loses_no_exchange_it_saved(tmp_path: Path) -> None:
    """``kill -9`` while exchanges are being written, three times over one file: every exchange
    whose save returned is there afterwards, the file passes SQLite's integrity check, and the
    next writer goes on from it."""
    db = tmp_path / "app.sqlite3"
    for _ in range(3):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db)], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True
        )
        assert writer.stdout is not None
        conversation_id = writer.stdout.readline().strip()
        acknowledged = -1
        while acknowledged < 40:  # mid-stream: the next save is under way when the signal lands
            acknowledged = int(writer.stdout.readline())
        writer.kill()
        writer.wait(10)
        assert writer.returncode == -9
        check = sqlite3.connect(db)
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        check.close()
        messages = ChatStore(db).messages(conversation_id)
        assert len(messages) % 2 == 0  # no exchange half-written: a question without its answer
        saved = len(messages) // 2
        assert saved >= acknowledged + 1, (saved, acknowledged)
        assert [m.text for m in messages[1::2]] == [f"answer {n}" for n in range(saved)]
