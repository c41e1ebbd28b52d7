"""What the app survives while it serves (issue 17): its index catalog truncated or overwritten,
a read-only data folder, a full disk, a damaged chat database. The real app on loopback, real
Chroma, the real (int8 ONNX) model, real mounts (a tmpfs, a read-only bind mount; skipped, saying
why, where mounting is not allowed).

    HF_HUB_OFFLINE=1 python -m pytest tests/test_faults.py -q
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import app
from core.settings import PROJECT_ROOT
from index.generations import Layout
from qa.pipeline import Pipeline
from tests.test_app import get, serve
from tests.test_bad_input import call
from tests.test_generations import GAMMA, TRUCKS, seeded

pytestmark = pytest.mark.slow

BRIDGES = "How many bridges did the gamma engineers repair?"


def ask(port: int, question: str) -> dict[str, Any]:
    """``/ask`` over HTTP, as any client calls it: the answer's JSON, or ``{"error": ...}``."""
    kind, result = call(port, "ask", [question])
    assert kind == "complete", result
    return result[0]  # type: ignore[no-any-return]


def at_once(*calls: Any) -> list[Any]:
    """Run each ``(function, *args)`` in a thread of its own, all at once; their results in order."""
    results: list[Any] = [None] * len(calls)

    def run(i: int, function: Any, *args: Any) -> None:
        try:
            results[i] = function(*args)
        except Exception as error:  # noqa: BLE001 - reported by the assertion that reads it
            results[i] = error

    threads = [threading.Thread(target=run, args=(i, *c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return results


def set_aside(settings) -> list[Path]:  # type: ignore[no-untyped-def]
    return sorted(p for p in settings.resolved_index_dir.iterdir() if p.name.startswith("damaged-"))


# --- case 2: the catalog damaged under the running app


@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_a_catalog_damaged_under_the_running_app_is_healed_while_serving(
    make_settings, embeddings, damage
) -> None:  # type: ignore[no-untyped-def]
    """``truncate -s 0`` (or 48 KB of random bytes over) the served catalog while the app runs:
    questions and the document view asked at once all answer, from a generation rebuilt from
    the seeds; the damaged one is moved aside once, with a WHY.txt. Before: OperationalError
    ("no such table: vocabulary") as an InternalError from /ask, /doc alternating 500/200."""
    settings = seeded(make_settings, watch_seeds=0)
    pipeline = Pipeline(settings, embeddings=embeddings)
    asgi = app.create_app(pipeline)
    assert asgi.state.index_status.wait(120), asgi.state.index_status.message
    with serve(asgi) as port:
        first = ask(port, TRUCKS)
        assert "40 trucks" in first["text"]
        catalog = Layout(settings).current().catalog_path
        if damage == "truncated":
            os.truncate(catalog, 0)
        else:
            size = catalog.stat().st_size
            with catalog.open("r+b") as handle:
                handle.seek(4096)
                handle.write(os.urandom(min(48 * 1024, size - 4096)))
        results = at_once(
            *[(ask, port, TRUCKS)] * 4, *[(get, port, "/doc/alpha.txt")] * 4, (get, port, "/doc/beta.md")
        )
        for answer in results[
            :4
        ]:  # (one whose reads all came from pages read before may be from the old one)
            assert isinstance(answer, dict) and "40 trucks" in answer.get("text", ""), answer
        assert ask(port, TRUCKS)["index_generation"] != first["index_generation"]
        for result in results[4:]:
            assert not isinstance(result, Exception), result
            assert result[0] == 200, result[:2]
        assert "40 trucks" in results[4][1] and "six weeks" in results[8][1]
        statuses = [get(port, "/doc/alpha.txt")[0] for _ in range(5)]
        assert statuses == [200] * 5  # never 500 and 200 by turns
    aside = set_aside(settings)
    assert len(aside) == 1 and "catalog" in (aside[0] / "WHY.txt").read_text()
    pipeline.close()


def test_every_sqlite_error_of_a_published_catalog_is_index_corrupt(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    """The lexical index's reads (``document_frequency``: "no such table: vocabulary") and every
    other read of a published catalog raise the project's IndexCorruptError, which the pipeline
    heals; a catalog being built keeps SQLite's own (a full disk is reported by the build)."""
    import sqlite3

    from core.errors import IndexCorruptError
    from index.build import build_index
    from index.catalog import Catalog

    settings = seeded(make_settings)
    build_index(settings, embeddings=embeddings)
    path = Layout(settings).current().catalog_path
    os.truncate(path, 0)
    catalog = Catalog(path)
    reads = [
        lambda: catalog.document_frequency("convoy"),
        lambda: catalog.search(["convoy"], 3),
        lambda: catalog.text("alpha.txt"),
        lambda: catalog.metadata("alpha.txt"),
        lambda: catalog.sources(),
        lambda: catalog.records(),
        lambda: catalog.mentions("convoy"),
        lambda: catalog.vectors([b"x" * 16]),
        lambda: catalog.meta(),
        lambda: catalog.chunk_count(),
    ]
    for read in reads:
        with pytest.raises(IndexCorruptError, match="cannot be read.*python -m index build"):
            read()
    catalog.close()
    building = Catalog(path.with_name("new.sqlite3"), writable=True)
    building.db.execute("DROP TABLE vocabulary")
    with pytest.raises(sqlite3.OperationalError):
        building.document_frequency("convoy")
    building.close()


# --- case 3: a read-only data folder


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` bind-mounted read-only over itself (``chmod`` does not stop root; a mount
    does); skipped where mounting is not allowed."""
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True, capture_output=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_read_only_data_folder_is_served(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    """``data/`` (index and conversations) mounted read-only: the app starts, questions are
    answered from the index as it is, the document view shows it, and the conversations saved
    before are listed, new ones kept in a private copy, saying so. Before: the app died in
    ui/store.py ("attempt to write a readonly database"); with the chat elsewhere, every question
    answered "Cannot write to the index folder" and /doc gave 503."""
    from index.build import build_index
    from ui.store import ChatStore

    settings = seeded(make_settings, watch_seeds=0)
    served = build_index(settings, embeddings=embeddings).generation
    # Saved by another process, which has closed the file (one still open here could write through
    # the mount: its descriptor was opened before it).
    saved = f"from ui.store import ChatStore; print(ChatStore({str(settings.resolved_chat_db)!r}).create('Asked').id)"
    earlier = subprocess.run(
        [sys.executable, "-c", saved], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    (settings.seeds_dir / "gamma.txt").write_text(GAMMA, encoding="utf-8")  # cannot be indexed now
    with read_only(settings.data_dir):
        before = {p.name: p.read_bytes() for p in settings.data_dir.glob("app.sqlite3*")}
        pipeline = Pipeline(settings, embeddings=embeddings)
        asgi = app.create_app(pipeline)  # died here
        assert asgi.state.index_status.wait(120), asgi.state.index_status.message
        assert "served as it is" in asgi.state.index_status.describe()  # said on the page
        with serve(asgi) as port:
            answer = ask(port, TRUCKS)
            assert "40 trucks" in answer.get("text", ""), answer
            assert answer["index_generation"] == served
            status, body, _ = get(port, "/doc/alpha.txt")
            assert status == 200 and "40 trucks" in body
        store = ChatStore(settings.resolved_chat_db)
        assert "cannot be written" in store.notice and "not saved" in store.notice
        assert [c.id for c in store.conversations()] == [earlier]
        added = store.create("Asked now")
        store.save_exchange(added.id, 0, [{"role": "user", "html": "q", "text": "q"}], [["user", "q"]])
        assert len(store.messages(added.id)) == 1
        pipeline.close()
        assert {p.name: p.read_bytes() for p in settings.data_dir.glob("app.sqlite3*")} == before


# --- case 4: a full disk


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``path``; skipped where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill what is left on ``disk`` but ``leave`` bytes; the file that fills it, to remove when
    space should return."""
    filler = disk / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as handle:
        while shutil.disk_usage(disk).free > leave + 65536 or not leave:
            handle.write(b"\0" * 65536)
            handle.flush()
    return filler


def wait_until(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


@pytest.mark.parametrize("when", ["at start", "while serving"])
def test_a_full_disk_keeps_the_served_index_answering_and_the_seed_is_indexed_once_space_returns(
    make_settings, embeddings, tmp_path, caplog, when
) -> None:  # type: ignore[no-untyped-def]
    """The data folder on a 3 MB tmpfs, filled, and a new seed: questions are answered from the
    served index, the status line says the disk is full in words, the library says the new seed
    waits for disk space, and once space is freed the watcher tries again and indexes the seed,
    with no traceback in the log. Before: at start the app could not be made (the chat database's
    SQLITE_FULL) or every /ask answered "The disk … is full"; while serving, the watcher logged
    build_lock's raw OSError 28 and never indexed the seed after space returned."""
    import logging

    from index.build import build_index
    from ui.library import Library

    caplog.set_level(logging.INFO)
    with small_disk(tmp_path / "disk", "3m") as disk:
        settings = seeded(make_settings, data_dir=disk / "data", watch_seeds=0.5)
        served = build_index(settings, embeddings=embeddings).generation
        filler = fill(disk) if when == "at start" else None
        if filler is not None:
            (settings.seeds_dir / "gamma.txt").write_text(GAMMA * 50, encoding="utf-8")
        pipeline = Pipeline(settings, embeddings=embeddings)
        asgi = app.create_app(pipeline)
        status = asgi.state.index_status
        assert status.wait(120), status.message
        with serve(asgi) as port:
            if filler is None:
                assert "40 trucks" in ask(port, TRUCKS)["text"]
                filler = fill(disk)
                (settings.seeds_dir / "gamma.txt").write_text(GAMMA * 50, encoding="utf-8")
            assert wait_until(lambda: "disk is full" in status.describe(), 30), status.describe()
            line = status.describe()
            assert "answers come from the documents indexed before" in line, line
            assert "Errno" not in line and str(disk) not in line, line  # words, not internals
            library = Library(pipeline, status)
            rows = {r.source: r.status for r in library.rows()}
            assert rows["gamma.txt"].startswith("waiting for disk space"), rows
            assert rows["alpha.txt"] == "indexed", rows
            answer = ask(port, TRUCKS)
            assert "40 trucks" in answer.get("text", ""), answer
            assert answer["index_generation"] == served
            assert get(port, "/doc/alpha.txt")[0] == 200
            filler.unlink()  # space returns
            assert wait_until(lambda: "two bridges" in ask(port, BRIDGES).get("text", ""), 90), (
                status.describe()
            )
            assert "full" not in status.describe(), status.describe()
            assert {r.source: r.status for r in library.rows()}["gamma.txt"] == "indexed"
        pipeline.close()
    for record in caplog.records:
        assert record.exc_info is None and "Traceback" not in record.getMessage(), record.getMessage()
    said = [r.getMessage() for r in caplog.records if "Following the seeds folder" in r.getMessage()]
    assert len([m for m in said if "is full" in m]) <= 1  # said once, not at every try


def test_a_full_disk_answers_from_the_published_generation_in_python(
    make_settings, embeddings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """``Pipeline.ask`` (what ``qa.ask`` calls) with auto-build, a new seed and the data folder's
    disk full: answered from the generation published before, not IndexWriteError; a pipeline made
    once space is freed indexes the seed. Before: the build's IndexWriteError (or build_lock's raw
    OSError 28) came out of ``ask``."""
    from index.build import build_index

    with small_disk(tmp_path / "disk", "3m") as disk:
        settings = seeded(make_settings, data_dir=disk / "data")
        assert settings.auto_build
        served = build_index(settings, embeddings=embeddings).generation
        filler = fill(disk)
        (settings.seeds_dir / "gamma.txt").write_text(GAMMA * 50, encoding="utf-8")
        pipeline = Pipeline(settings, embeddings=embeddings)
        answer = pipeline.ask(TRUCKS)
        assert "40 trucks" in answer.text
        assert pipeline.index.served().name == served
        assert "gamma.txt" not in pipeline.index.sources()
        pipeline.close()
        filler.unlink()  # space returns: the next pipeline (a restart) indexes the seed
        pipeline = Pipeline(settings, embeddings=embeddings)
        assert "two bridges" in pipeline.ask(BRIDGES).text
        assert pipeline.index.served().name != served
        pipeline.close()


def test_an_index_copied_onto_a_full_disk_is_served(make_settings, embeddings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A data folder built before (by another run: here another folder, copied) and the disk it is
    on full when the app starts: Chroma writes its log files even to read, so the index is
    served from a private copy in the temporary folder, and the chat and the status say the disk
    is full. Before: "Cannot open the Chroma index …: the disk is full" and the app never
    answered (scripts/bench_faults.py's full-disk phases stopped there)."""
    import shutil

    from index.build import build_index

    built = seeded(make_settings, data_dir=tmp_path / "built", watch_seeds=0)
    served = build_index(built, embeddings=embeddings).generation
    with small_disk(tmp_path / "disk", "8m") as disk:
        shutil.copytree(built.data_dir, disk / "data")
        settings = make_settings(data_dir=disk / "data", watch_seeds=0)  # the same seeds
        fill(disk)
        pipeline = Pipeline(settings, embeddings=embeddings)
        asgi = app.create_app(pipeline)
        assert asgi.state.index_status.wait(120), asgi.state.index_status.message
        with serve(asgi) as port:
            answer = ask(port, TRUCKS)
            assert "40 trucks" in answer.get("text", ""), answer
            assert answer["index_generation"] == served
            assert get(port, "/doc/alpha.txt")[0] == 200
        pipeline.close()


def test_a_build_that_fills_the_disk_leaves_room_for_the_next(make_settings, embeddings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two builds (the first generation kept beside the second, for questions under way), the
    disk filled, a new seed: the build fails for the full disk and removes the generation kept
    beside, so that freeing room for one copy is enough. Before: the kept generation stayed, and
    after the filler was removed the next build still found the disk full (scripts/bench_faults.py:
    the seed added while serving was not indexed 120 s after space was freed)."""
    from core.errors import DiskFullError
    from index.build import build_index

    with small_disk(tmp_path / "disk", "8m") as disk:
        settings = seeded(make_settings, data_dir=disk / "data")
        build_index(settings, embeddings=embeddings)
        (settings.seeds_dir / "gamma.txt").write_text(GAMMA, encoding="utf-8")
        served = build_index(settings, embeddings=embeddings).generation
        layout = Layout(settings)
        assert len(layout.names()) == 2  # the one before is kept beside
        filler = fill(disk)
        (settings.seeds_dir / "delta.txt").write_text(GAMMA.replace("bridges", "ferries"), encoding="utf-8")
        with pytest.raises(DiskFullError):
            build_index(settings, embeddings=embeddings)
        assert layout.names() == [served]
        filler.unlink()
        fill(disk, leave=4 * 2**20)  # room for one copy of the served generation, not for two
        assert build_index(settings, embeddings=embeddings).generation != served


def test_a_copy_that_filled_the_disk_is_said_in_one_sentence(make_settings) -> None:  # type: ignore[no-untyped-def]
    """A generation's copy failing for a full disk (shutil.Error, one tuple per file) is said as
    a full disk in a sentence, not as the list of every file. Before: the log line held the list
    of (source, target, error) tuples (scripts/bench_faults.py, full disk while serving)."""
    import shutil

    from core.errors import DiskFullError
    from index.build import _write_error

    files = [
        (f"/d/g1/chroma/{i}.bin", f"/d/g2/chroma/{i}.bin", "[Errno 28] No space left on device")
        for i in range(40)
    ]
    layout = Layout(make_settings())
    error = _write_error(shutil.Error(files), layout)
    assert isinstance(error, DiskFullError)
    assert "/d/g1" not in str(error) and "No space left on device" in str(error), str(error)


# --- case 9: a damaged chat database

# Saved by another process, which has closed the file: 40 conversations, enough pages that the
# middle of the file is the messages' pages.
SAVE_CONVERSATIONS = """
import sys
from ui.store import ChatStore
store = ChatStore(sys.argv[1])
for i in range(40):
    c = store.create(f"Asked {i}")
    store.save_exchange(c.id, 0, [{"role": "user", "html": "q" * 2000, "text": "q"},
                                  {"role": "assistant", "html": "a" * 3000}], [["user", "q"]])
"""
DAMAGES = {
    "first 100 bytes overwritten": lambda data: b"\x5a" * 100 + data[100:],
    "truncated to half": lambda data: data[: len(data) // 2],
    "replaced by text": lambda data: b"notes to myself: buy milk\n" * 10,
    "damaged in the middle": lambda data: (
        data[: len(data) // 2] + b"\xff" * 4096 + data[len(data) // 2 + 4096 :]
    ),
}
CHAT_TRUCKS = [TRUCKS, [], [], 5, "extractive", False, None]  # the page's /chat event, a new conversation


def saved_conversations(path: Path) -> None:
    subprocess.run([sys.executable, "-c", SAVE_CONVERSATIONS, str(path)], cwd=PROJECT_ROOT, check=True)


def moved_aside(path: Path) -> list[Path]:
    """The damaged files set aside (their -wal and -shm beside them not counted)."""
    found = path.parent.glob(f"{path.name}.damaged-*")
    return sorted(p for p in found if not p.name.endswith(("-wal", "-shm")))


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_chat_file_is_moved_aside_and_an_empty_one_started(
    make_settings, embeddings, damage
) -> None:  # type: ignore[no-untyped-def]
    """The conversations file damaged before the app starts: the app starts, the file is kept
    beside under another name, the conversations panel says so in words, and the chat saves into a
    new, empty file. Before: create_app raised 'file is not a database' (python app.py: a
    traceback, exit 1) or, damaged in the middle, the page's saving raised 'database disk image is
    malformed'."""
    from ui.store import ChatStore

    settings = seeded(make_settings, watch_seeds=0)
    path = settings.resolved_chat_db
    saved_conversations(path)
    damaged = DAMAGES[damage](path.read_bytes())
    path.write_bytes(damaged)
    pipeline = Pipeline(settings, embeddings=embeddings)
    asgi = app.create_app(pipeline)  # raised here, three damages of four
    assert asgi.state.index_status.wait(120), asgi.state.index_status.message
    [aside] = moved_aside(path)
    assert aside.read_bytes() == damaged  # kept as it was, for whoever wants to recover it
    with serve(asgi) as port:
        status, page, _ = get(port, "/")
        assert status == 200
        assert "conversations-notice" in page and "was damaged" in page and aside.name in page
        kind, result = call(port, "chat", CHAT_TRUCKS)
        assert kind == "complete", result
        assert "40 trucks" in str(result[0]), result
    pipeline.close()
    store = ChatStore(path)  # the new file: this run's conversation in it, the damaged one left alone
    assert store.notice == ""
    assert [c.title for c in store.conversations()] == [TRUCKS]
    assert moved_aside(path) == [aside]


def test_a_chat_file_damaged_while_the_app_serves_is_moved_aside(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    """The conversations file damaged in the middle while the app serves: opening a saved
    conversation whose messages were there shows an empty chat and says why, the file is kept
    beside, and the next question is saved in a new, empty file. Before: opening it raised
    'database disk image is malformed' (the page's raw toast), each time."""
    from ui.chat import Chat
    from ui.conversations import Conversations
    from ui.status import IndexStatus
    from ui.store import ChatStore

    settings = seeded(make_settings, watch_seeds=0)
    path = settings.resolved_chat_db
    saved_conversations(path)
    pipeline = Pipeline(settings, embeddings=embeddings)
    status = IndexStatus()
    status.finish("Ready.")  # the index was opened by the pipeline: questions can be answered
    conversations = Conversations(Chat(pipeline, status), ChatStore(path))  # the page's handlers
    saved = [c.id for c in conversations.store.conversations()]
    assert len(saved) == 40 and conversations.notice().visible is False
    damaged = DAMAGES["damaged in the middle"](path.read_bytes())
    with open(path, "r+b") as file:  # in place, as a failing disk does it: the open file sees it
        file.write(damaged)
    opened = [conversations.open(cid) for cid in saved]  # raised here
    assert [chat for chat, *_ in opened if chat] != []  # those before the damage were shown
    assert opened[-1][0] == [] and opened[-1][2] == ""  # and since: none, a new chat
    [aside] = moved_aside(path)
    assert aside.read_bytes() == damaged
    notice = conversations.notice()
    assert notice.visible is True and "was damaged" in notice.value and aside.name in notice.value
    *_, (chat, _, _, current) = conversations.respond(TRUCKS, [], [], 5, "extractive", False, "")
    assert "40 trucks" in chat[-1]["content"] and current
    pipeline.close()
    assert [c.title for c in ChatStore(path).conversations()] == [TRUCKS]
    assert moved_aside(path) == [aside]
