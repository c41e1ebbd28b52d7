"""Large seeds do not block the rest (issue 10): a build publishes the small seeds first, and
questions are answered from them while a large seed is still being embedded; the app, the
pipeline and `index status` show what is pending and how far it is; a build killed during the
large seed leaves the partial generation served, and the next build finishes the job.

Real parts: the five project seeds, a generated 80 KB seed, the real (int8 ONNX) model, real
Chroma in a temporary folder, real `python -m index` processes. The build is held at a known point
(while the large seed's embedding is halfway) by the embedder itself, not by timing."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from langchain_core.embeddings import Embeddings

from core.settings import PROJECT_ROOT
from index.build import build_index, publish_points
from index.generations import Layout
from index.synthetic import write_large_seed
from qa.pipeline import Pipeline
from tests.conftest import SEEDS, index_cli
from ui.chat import Chat
from ui.status import IndexStatus, prepare_index, start_index

pytestmark = pytest.mark.slow

QUESTION = "Who reported 12,000 troops?"
FACT = "The Quillmark zeppelin festival drew 4,321 visitors in its first week."
BIG_QUESTION = "How many visitors did the Quillmark zeppelin festival draw?"
# 80 KB: about 860 texts to embed, more than this; each of the five seeds has fewer than 200.
LARGE = 500


def with_large_seed(make_settings, **overrides):  # type: ignore[no-untyped-def]
    settings = make_settings(partial_publish_texts=LARGE, watch_seeds=0, **overrides)
    shutil.rmtree(settings.seeds_dir)
    shutil.copytree(SEEDS, settings.seeds_dir)
    write_large_seed(SEEDS, settings.seeds_dir / "big.txt", 80_000, FACT)
    return settings


class Holding(Embeddings):
    """The real embeddings, holding the build when it reaches the large seed's middle (the batch
    with ``FACT``) until the test lets it go."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.reached, self.go = inner, threading.Event(), threading.Event()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if any(FACT in t for t in texts) and not self.go.is_set():
            self.reached.set()
            assert self.go.wait(300), "never let go"
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def test_publish_points() -> None:
    assert publish_points([100, 200, 5000], 2000) == [2]  # before the large one
    assert publish_points([5000, 6000], 2000) == [1]  # the first large one, then the second
    assert publish_points([100, 200, 5000], 0) == []  # off
    assert publish_points([100, 200, 300], 2000) == []  # a short build publishes once
    assert publish_points([100, 5000], 6000) == []  # nothing over the limit
    assert publish_points([900] * 6, 1000) == [2, 4]  # a long build: each time as much again is done


def test_the_status_line_names_the_seed_embedded_after_a_partial_publish() -> None:
    from index.build import BuildReport

    status = IndexStatus()
    status.progress(120, 900, "b.txt")
    assert not status.wait(0) and status.describe().startswith("Building the index: 120 of 900")
    status.published(BuildReport(generation="g000001", pending=["big.txt"], documents=2))
    assert status.wait(0) and status.updating  # questions are answered from now on
    assert status.describe() == (
        "Indexing big.txt: 120 of 900 passages embedded; answers come from the 2 documents indexed so far."
    )
    status.published(BuildReport(generation="g000002", documents=3))
    status.stopped(None)
    assert status.describe() == "Ready: 3 articles indexed." and not status.updating


def test_questions_are_answered_while_a_large_seed_is_indexed(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = with_large_seed(make_settings)
    held = Holding(embeddings)
    pipeline = Pipeline(settings, embeddings=held)
    status = IndexStatus()
    thread = start_index(pipeline, status)  # what the app does on its first start, no index yet
    try:
        assert held.reached.wait(300), status.describe()
        partial = Layout(settings).current_name()
        assert partial is not None

        chat = Chat(pipeline, status)
        result = chat.ask(QUESTION)  # the /ask API: no longer waits for the whole build
        assert "Ukrainian intelligence" in result["text"] and result["index_generation"] == partial
        updates = list(chat.respond(QUESTION, [], [], 6, "extractive", False))
        assert "Ukrainian intelligence" in updates[-1][0][-1]["content"]
        assert "qa-error" not in updates[-1][0][-1]["content"]

        line = status.describe()
        assert status.ready and status.updating and status.pending == ["big.txt"], line
        assert line.startswith("Indexing big.txt: ") and "passages embedded" in line, line
        assert line.endswith("answers come from the 5 documents indexed so far."), line

        [pending] = pipeline.index.pending()
        assert pending.source == "big.txt" and pending.running and not pending.replaces
        assert pending.embedded is not None and 0 < pending.embedded < pending.texts
        assert pending.describe().startswith("big.txt: being indexed, ")

        shown = index_cli(settings, "status", timeout=120)
        assert shown.returncode == 0, shown.stderr
        assert f"generation {partial}" in shown.stdout and "build running (process" in shown.stdout
        assert "big.txt: being indexed, " in shown.stdout and " texts embedded" in shown.stdout
        assert shown.stdout.rstrip().endswith("; 1 still to index")
        assert "5 documents" in shown.stdout

        early = pipeline.ask(BIG_QUESTION)  # the large seed is not there yet: not cited, no error
        assert all(c.source != "big.txt" for c in early.citations)
    finally:
        held.go.set()
    thread.join(300)
    assert status.describe() == "Ready: 6 articles indexed." and not status.updating
    assert Layout(settings).current_name() != partial
    answer = pipeline.ask(BIG_QUESTION)  # the same pipeline follows the complete generation
    assert "4,321" in answer.text and answer.citations[0].source == "big.txt"
    assert pipeline.index.pending() == []
    shown = index_cli(settings, "status", timeout=120)
    assert re.search(r"\n6 documents, \d+ chunks$", shown.stdout.rstrip()), shown.stdout
    assert "still to index" not in shown.stdout and "build running" not in shown.stdout
    pipeline.close()


def test_the_seeds_watcher_reports_its_progress_to_the_page(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = with_large_seed(make_settings)
    big = settings.seeds_dir / "big.txt"
    text = big.read_text(encoding="utf-8")
    big.unlink()
    held = Holding(embeddings)
    pipeline = Pipeline(settings, embeddings=held)
    status = IndexStatus()
    prepare_index(pipeline, status)
    assert status.describe() == "Ready: 5 articles indexed."
    big.write_text(text, encoding="utf-8")  # a large seed added while the app runs
    try:
        pipeline.index.watch_seeds(interval=0.2)
        assert held.reached.wait(300)
        assert status.ready and status.updating
        assert status.describe().startswith("Indexing big.txt: "), status.describe()
        assert "Ukrainian intelligence" in pipeline.ask(QUESTION).text
    finally:
        held.go.set()
    deadline = time.monotonic() + 300
    while status.updating:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status.describe() == "Ready: 6 articles indexed."
    assert "4,321" in pipeline.ask(BIG_QUESTION).text
    pipeline.close()


def test_a_build_killed_during_the_large_seed_leaves_the_partial_generation_served(
    make_settings, embeddings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    settings = with_large_seed(make_settings)
    layout = Layout(settings)
    command = [sys.executable, "-m", "index", "build", "--seeds", str(settings.seeds_dir)]
    command += ["--index", str(settings.resolved_index_dir)]
    env = {**os.environ, "QA_PARTIAL_PUBLISH_TEXTS": str(LARGE)}
    log = tmp_path / "build.log"
    with log.open("w") as output:  # a file, not a pipe: the progress bar would fill a pipe and stall
        build = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 300
        while not (
            (p := layout.read_progress()) and p.get("source") == "big.txt" and p.get("embedded", 0) > 0
        ):
            assert build.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the build never reached the large seed"
            time.sleep(0.05)
    finally:
        os.kill(build.pid, signal.SIGKILL)
        build.wait()
    partial = layout.current_name()
    assert partial is not None and len(layout.names()) == 2  # the partial one and the killed one's folder

    shown = index_cli(settings, "status", timeout=120)
    assert shown.returncode == 0 and f"generation {partial}" in shown.stdout, shown.stderr
    assert "big.txt: not indexed yet, the build that was indexing it stopped" in shown.stdout
    assert re.search(
        r"a build stopped before finishing at [\d: -]+: it was embedding big\.txt \(", shown.stdout
    )
    assert "build running" not in shown.stdout and "5 documents" in shown.stdout

    served = Pipeline(settings.model_copy(update={"auto_build": False}), embeddings=embeddings)
    answer = served.ask(QUESTION)
    assert "Ukrainian intelligence" in answer.text and answer.index_generation == partial
    served.close()

    report = build_index(settings, embeddings=embeddings)  # the next build finishes the job
    assert report.added == ["big.txt"] and len(report.unchanged) == 5 and report.pending == []
    assert layout.names() == [partial, report.generation]  # the killed build's folder removed, not the served
    pipeline = Pipeline(settings, embeddings=embeddings)
    assert "4,321" in pipeline.ask(BIG_QUESTION).text and pipeline.index.pending() == []
    pipeline.close()


class HeldWhileReading:
    """The page's status as a pipeline's listener, holding the build while it reads (and cleans)
    ``big.txt``, before anything of it is embedded, until the test lets it go; then the build stops."""

    def __init__(self, status: IndexStatus) -> None:
        self.status, self.reached, self.go = status, threading.Event(), threading.Event()

    def reading(self, source: str, size: int) -> None:
        self.status.reading(source, size)
        if source == "big.txt":
            self.reached.set()
            assert self.go.wait(300), "never let go"
            raise RuntimeError("stopped by the test")  # nothing of it to embed: the test is done

    def progress(self, done: int, total: int, source: str) -> None:
        self.status.progress(done, total, source)

    def published(self, report) -> None:  # type: ignore[no-untyped-def]
        self.status.published(report)

    def stopped(self, error: Exception | None) -> None:
        self.status.stopped(error)


def test_a_large_seed_being_read_shows_in_the_status_line_and_index_status(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    """Reading and cleaning a 50 MB seed took minutes before its first text was embedded, and
    the page said "Ready" and `index status` nothing meanwhile: the read is reported as it starts."""
    settings = with_large_seed(make_settings)
    big = settings.seeds_dir / "big.txt"
    text = big.read_text(encoding="utf-8")
    big.unlink()
    pipeline, status = Pipeline(settings, embeddings=embeddings), IndexStatus()
    prepare_index(pipeline, status)
    assert status.describe() == "Ready: 5 articles indexed."
    big.write_text(text * 30, encoding="utf-8")  # about 2.4 MB, added while the app runs
    held = HeldWhileReading(status)
    pipeline.index.listen(held)
    failed: list[Exception] = []

    def look() -> None:  # what the seeds watcher does
        try:
            pipeline.index.check_seeds()
        except RuntimeError as error:
            failed.append(error)

    thread = threading.Thread(target=look)
    thread.start()
    try:
        while not held.reached.wait(0.1):
            assert thread.is_alive(), f"the build never said it was reading big.txt: {status.describe()}"
        line = status.describe()
        assert status.updating and line.startswith("Indexing: reading big.txt (2 MB)…"), line
        assert line.endswith("answers come from the 5 documents indexed so far."), line
        shown = index_cli(settings, "status", timeout=120)
        assert shown.returncode == 0, shown.stderr
        assert re.search(r"build running \(process \d+\): reading big\.txt \(2 MB\)", shown.stdout), (
            shown.stdout
        )
    finally:
        held.go.set()
        thread.join(300)
    assert failed and not status.updating and status.describe().startswith("Ready: 5 articles indexed.")
    pipeline.close()


def test_index_status_names_a_build_killed_while_reading_a_large_seed(
    make_settings, embeddings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A build killed with `kill -9` while it reads a large seed is named by `index status`, with
    when it stopped and what it was doing, instead of nothing at all."""
    settings = with_large_seed(make_settings)
    big = settings.seeds_dir / "big.txt"
    text = big.read_text(encoding="utf-8")
    big.unlink()
    build_index(settings, embeddings=embeddings)
    big.write_text(text * 100, encoding="utf-8")  # about 8 MB: seconds to read and clean
    layout = Layout(settings)
    command = [sys.executable, "-m", "index", "build", "--seeds", str(settings.seeds_dir)]
    command += ["--index", str(settings.resolved_index_dir)]
    log = tmp_path / "build.log"
    with log.open("w") as output:
        build = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 300
        while not ((p := layout.read_progress()) and p.get("reading") == "big.txt"):
            assert build.poll() is None, log.read_text()
            assert not (p and "embedded" in p), f"embedding began, never said it read big.txt: {p}"
            assert time.monotonic() < deadline, "the build never said it was reading big.txt"
            time.sleep(0.02)
    finally:
        os.kill(build.pid, signal.SIGKILL)
        build.wait()
    shown = index_cli(settings, "status", timeout=120)
    assert shown.returncode == 0 and "5 documents" in shown.stdout, shown.stderr
    assert "build running" not in shown.stdout
    assert re.search(
        r"a build stopped before finishing at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: it was reading big\.txt \(8 MB\); "
        r"`python -m index build` runs it again",
        shown.stdout,
    ), shown.stdout
    build_index(settings, embeddings=embeddings)  # the next build clears the record
    assert "a build stopped" not in index_cli(settings, "status", timeout=120).stdout
