"""Index generations under fire: builds killed with SIGKILL, damaged files, two builds at once, a
rebuild while questions are answered, seeds edited while the app runs, a read-only and a full disk,
an index past Chroma's one-statement limit. Real Chroma, the real (int8 ONNX) model, real processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.errors import IndexBusyError, IndexWriteError
from core.settings import PROJECT_ROOT
from index.build import build_index
from index.catalog import Catalog
from index.generations import Layout
from qa.pipeline import Pipeline
from tests.conftest import index_cli

pytestmark = pytest.mark.slow

ALPHA = "Alpha Report\nThe alpha convoy carried 40 trucks to the border. Officials confirmed the convoy arrived.\n"
BETA = "Beta Report\nThe beta battalion trained for six weeks near the coast. It then moved north.\n"
GAMMA = "Gamma Report\nGamma engineers repaired two bridges in the valley. The work took a month.\n"
TRUCKS = "How many trucks did the alpha convoy carry?"


def seeded(make_settings, **overrides):  # type: ignore[no-untyped-def]
    settings = make_settings(**overrides)
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    (settings.seeds_dir / "beta.md").write_text(BETA, encoding="utf-8")
    return settings


def quoted_from_its_generation(settings, answer) -> bool:  # type: ignore[no-untyped-def]
    """Every citation's quote is the text at its offsets in the generation that answered."""
    catalog = Catalog(Layout(settings).generation(answer.index_generation).catalog_path)
    try:
        return all((catalog.text(c.source) or "")[c.start : c.end] == c.quote for c in answer.citations)
    finally:
        catalog.close()


class Counting:
    """The real embeddings, counting the texts embedded."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.texts = inner, []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts += texts
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.texts.append(text)
        return self.inner.embed_query(text)


def test_only_the_question_is_embedded_at_question_time(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = seeded(make_settings)
    (settings.seeds_dir / "beta.md").write_text(BETA.replace("\n", "\nBy Jane Roe\n", 1), encoding="utf-8")
    build_index(settings, embeddings=embeddings)
    counting = Counting(embeddings)
    pipeline = Pipeline(settings, embeddings=counting)
    questions = [
        TRUCKS,
        "How long did the beta battalion train?",
        "Who wrote the article about the beta battalion?",
    ]
    answers = [pipeline.ask(q) for q in questions]
    assert "40 trucks" in answers[0].text and "six weeks" in answers[1].text
    assert "Jane Roe" in answers[2].text  # a metadata answer compares document descriptions
    # Sentences, their contexts, descriptions and metadata quotes were stored with the index: only
    # the questions are embedded, and the one sentence written for the answer (for its judge).
    assert (
        counting.texts
        == [*questions, answers[2].sentences[0].text]
        == [*questions, "The article is by Jane Roe."]
    )


# --- builds killed, damaged, concurrent

SLOW_BUILD = """
import sys, time
from pathlib import Path
from index.build import build_index
from core.settings import Settings
marks = Path(sys.argv[3])
def progress(done, total, source):
    with marks.open("a") as f:
        f.write(f"{done} {total}\\n")
    time.sleep(0.3)
settings = Settings(seeds_dir=Path(sys.argv[1]), data_dir=Path(sys.argv[2]), _env_file=None)
report = build_index(settings, progress=progress, rebuild=sys.argv[4:] == ["rebuild"])
print(report.generation)
"""


def slow_build(settings, marks: Path, rebuild: bool = False) -> subprocess.Popen:  # type: ignore[type-arg, no-untyped-def]
    return subprocess.Popen(
        [sys.executable, "-c", SLOW_BUILD, str(settings.seeds_dir), str(settings.data_dir), str(marks)]
        + (["rebuild"] if rebuild else []),
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def after_chunks(settings) -> int:  # type: ignore[no-untyped-def]
    """The chunks Chroma holds for the served generation."""
    from index.store import chroma_client

    generation = Layout(settings).current()
    return int(chroma_client(settings, generation).get_collection(generation.collection).count())


def wait_for(condition, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("point", ["first", "last", "rebuild"])
def test_a_build_killed_midway_never_touches_the_served_generation(
    make_settings, embeddings, tmp_path, point
) -> None:  # type: ignore[no-untyped-def]
    settings = seeded(make_settings)
    served = build_index(settings, embeddings=embeddings).generation
    pipeline = Pipeline(settings, embeddings=embeddings)
    assert "40 trucks" in pipeline.ask(TRUCKS).text

    (settings.seeds_dir / "alpha.txt").write_text(ALPHA.replace("40", "55"), encoding="utf-8")
    (settings.seeds_dir / "gamma.txt").write_text(GAMMA, encoding="utf-8")
    marks = tmp_path / f"marks-{point}"
    build = slow_build(settings, marks, rebuild=point == "rebuild")

    def reached() -> bool:
        lines = marks.read_text().split("\n") if marks.exists() else []
        done = [line.split() for line in lines if line]
        return bool(done) and (point != "last" or done[-1][0] == done[-1][1])

    wait_for(reached)
    answer = pipeline.ask(TRUCKS)  # answered from the served generation while the build runs
    os.kill(build.pid, signal.SIGKILL)
    build.wait()
    assert "40 trucks" in answer.text and answer.index_generation == served
    assert Layout(settings).current_name() == served and len(Layout(settings).names()) == 2  # its leftover
    after = pipeline.ask(TRUCKS)
    assert "40 trucks" in after.text and quoted_from_its_generation(settings, after)
    status = index_cli(settings, "status")  # a killed --rebuild left an empty index reported as full
    assert status.returncode == 0 and f"generation {served}" in status.stdout
    assert status.stdout.rstrip().endswith(f"2 documents, {after_chunks(settings)} chunks")

    report = build_index(settings, embeddings=embeddings)  # the next build removes the leftover
    assert report.added == ["gamma.txt"] and report.updated == ["alpha.txt"]
    assert Layout(settings).names() == [served, report.generation]
    assert "55 trucks" in pipeline.ask(TRUCKS).text  # followed without a restart


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "catalog"])
def test_a_damaged_index_is_set_aside_and_rebuilt_without_a_manual_step(
    make_settings, embeddings, damage
) -> None:  # type: ignore[no-untyped-def]
    settings = seeded(make_settings)
    build_index(settings, embeddings=embeddings)
    generation = Layout(settings).current()
    if damage == "catalog":
        path = generation.catalog_path
        path.write_bytes(path.read_bytes()[:4096])
    else:
        path = generation.chroma_path / "chroma.sqlite3"
        data = bytearray(path.read_bytes())
        if damage == "truncated":
            data = data[: len(data) // 3]
        else:
            data[: len(data)] = os.urandom(len(data))
        path.write_bytes(bytes(data))
    answer = Pipeline(settings, embeddings=embeddings).ask(TRUCKS)
    assert "40 trucks" in answer.text and answer.index_generation != generation.name
    aside = [p for p in settings.resolved_index_dir.iterdir() if p.name.startswith("damaged-")]
    assert len(aside) == 1 and (aside[0] / "WHY.txt").read_text().strip()


def test_two_builds_at_once_one_waits_for_the_other(make_settings, embeddings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = seeded(make_settings)
    builds = [slow_build(settings, tmp_path / f"marks-{i}") for i in range(2)]
    outputs = [b.communicate(timeout=300) for b in builds]
    assert [b.returncode for b in builds] == [0, 0], outputs
    names = sorted(out.strip() for out, _ in outputs)
    assert names[0] == names[1] == Layout(settings).current_name()  # the second found nothing to do
    assert "40 trucks" in Pipeline(settings, embeddings=embeddings).ask(TRUCKS).text

    with Layout(settings).build_lock():  # a build is running: --no-wait says so and exits 1
        with pytest.raises(IndexBusyError, match="Another build"):
            build_index(settings, embeddings=embeddings, wait=False)
        done = index_cli(settings, "build", "--no-wait", timeout=120)
    assert (
        done.returncode == 1
        and done.stderr.startswith("error: Another build of")
        and "Traceback" not in done.stderr
    )


def test_rebuilds_while_a_pipeline_answers_from_another_thread(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = seeded(make_settings)
    build_index(settings, embeddings=embeddings)
    pipeline = Pipeline(settings, embeddings=embeddings)
    stop, failures, answers = threading.Event(), [], []

    def ask() -> None:
        while not stop.is_set():
            try:
                answer = pipeline.ask(TRUCKS)
                answers.append(
                    (
                        answer.index_generation,
                        "trucks" in answer.text,
                        (
                            answer.text,
                            answer.confidence,
                            [(p.source, p.dense_score, p.bm25_score) for p in answer.passages],
                        ),
                    )
                )
                if not quoted_from_its_generation(settings, answer):
                    failures.append(f"misquoted: {answer.citations}")
            except Exception:  # noqa: BLE001 - every failure is what this test counts
                import traceback

                failures.append(traceback.format_exc())

    thread = threading.Thread(target=ask)
    thread.start()
    try:
        for n in range(3):  # every edit shifts the offsets of the cited sentence
            text = "Alpha Report\n" + "A new first line. " * (n + 1) + "\n" + ALPHA.split("\n", 1)[1]
            (settings.seeds_dir / "alpha.txt").write_text(text, encoding="utf-8")
            build_index(settings, embeddings=embeddings, rebuild=n == 2)
            time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert len({g for g, _, _ in answers}) >= 3 and [t for _, ok, t in answers if not ok] == []


def test_seeds_edited_deleted_and_added_are_followed_without_a_restart(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = seeded(make_settings)
    pipeline = Pipeline(settings, embeddings=embeddings)
    assert "40 trucks" in pipeline.ask(TRUCKS).text
    pipeline.index.watch_seeds(interval=0.2)  # what the app does
    try:
        seed = settings.seeds_dir / "alpha.txt"
        seed.write_text(
            "Alpha Report\nA line first.\n" + ALPHA.split("\n", 1)[1].replace("40", "55"), encoding="utf-8"
        )
        wait_for(lambda: "55 trucks" in pipeline.ask(TRUCKS).text)
        answer = pipeline.ask(TRUCKS)
        citation = answer.citations[0]
        assert seed.read_text(encoding="utf-8")[citation.start : citation.end] == citation.quote
        assert pipeline.index.document("alpha.txt").text == seed.read_text(encoding="utf-8")

        (settings.seeds_dir / "beta.md").unlink()
        wait_for(lambda: pipeline.index.sources() == ["alpha.txt"])
        assert all(
            p.source == "alpha.txt" for p in pipeline.ask("How long did the beta battalion train?").passages
        )

        (settings.seeds_dir / "gamma.txt").write_text(GAMMA, encoding="utf-8")
        wait_for(lambda: "gamma.txt" in pipeline.index.sources())
        assert "two bridges" in pipeline.ask("How many bridges did the gamma engineers repair?").text
    finally:
        pipeline.close()


def same_size_edit_keeping_the_time(seed: Path, old: str, new: str, how: str) -> None:
    """Replace ``old`` by ``new`` (as long) in ``seed`` the way ``how`` does, its mtime kept."""
    reference = seed.with_name(".reference")
    subprocess.run(["cp", "-p", str(seed), str(reference)], check=True)
    edited = seed.with_name(".edited")
    edited.write_text(seed.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    subprocess.run(["touch", "-r", str(reference), str(edited)], check=True)
    if how == "sed -i, touch -r":
        subprocess.run(["sed", "-i", f"s/{old}/{new}/", str(seed)], check=True)
        subprocess.run(["touch", "-r", str(reference), str(seed)], check=True)
    elif how == "cp -p":  # written in place: the same inode
        subprocess.run(["cp", "-p", str(edited), str(seed)], check=True)
    else:  # what `rsync -t` does: a temporary file beside it, its time set, renamed over
        os.replace(edited, seed)
    edited.unlink(missing_ok=True)
    reference.unlink()
    assert seed.stat().st_size == len(seed.read_bytes()) and new in seed.read_text(encoding="utf-8")


@pytest.mark.parametrize("how", ["sed -i, touch -r", "cp -p", "rsync -t"])
def test_a_same_size_edit_that_keeps_the_files_time_is_followed(make_settings, embeddings, how: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 17, case 10: size and mtime alone missed it, and the app cited 88,888 indefinitely;
    the library, which caches each file's hash by the same key, said "indexed"."""
    from ui.library import Library
    from ui.status import IndexStatus

    settings = seeded(make_settings)
    seed = settings.seeds_dir / "alpha.txt"
    seed.write_text(ALPHA.replace("40", "88,888"), encoding="utf-8")
    pipeline = Pipeline(settings, embeddings=embeddings)
    try:
        assert "88,888 trucks" in pipeline.ask(TRUCKS).text
        assert pipeline.index.check_seeds() is None  # the watcher's first look: nothing changed
        status = IndexStatus()
        status.finish("Ready")
        library = Library(pipeline, status)
        assert {r.source: r.status for r in library.rows()}["alpha.txt"] == "indexed"  # its hash cached
        before = seed.stat()
        same_size_edit_keeping_the_time(seed, "88,888", "77,777", how)
        after = seed.stat()
        assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
        assert {r.source: r.status for r in library.rows()}["alpha.txt"] == "changed since indexing"
        report = pipeline.index.check_seeds()
        assert report is not None and report.updated == ["alpha.txt"]
        answer = pipeline.ask(TRUCKS)
        assert "77,777 trucks" in answer.text and quoted_from_its_generation(settings, answer)
    finally:
        pipeline.close()


# --- disks that are read-only or full (a small tmpfs; skipped where mounting is not allowed)


@contextlib.contextmanager
def tmpfs(path: Path, size: str):  # type: ignore[no-untyped-def]
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


def test_a_read_only_index_is_served(make_settings, embeddings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with tmpfs(tmp_path / "disk", "64m") as disk:
        settings = seeded(make_settings, index_dir=disk / "index")
        index_cli(settings, "build", check=True)  # another process built it: none of its files open here
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        (settings.seeds_dir / "gamma.txt").write_text(GAMMA, encoding="utf-8")  # cannot be indexed now
        pipeline = Pipeline(settings, embeddings=embeddings)  # auto_build on: it tries, then serves
        answer = pipeline.ask(TRUCKS)
        assert "40 trucks" in answer.text and quoted_from_its_generation(settings, answer)


def test_a_full_disk_is_a_clear_error_and_the_served_generation_stays(
    make_settings, embeddings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    with tmpfs(tmp_path / "disk", "3m") as disk:
        settings = seeded(make_settings, index_dir=disk / "index")
        served = build_index(settings, embeddings=embeddings).generation
        filler = disk / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as handle:
            while True:  # fill what is left, but for a few KB
                handle.write(b"\0" * 65536)
        filler.write_bytes(filler.read_bytes()[: max(0, filler.stat().st_size - 8192)])
        (settings.seeds_dir / "gamma.txt").write_text(GAMMA * 50, encoding="utf-8")
        with pytest.raises(IndexWriteError, match="is full.*the index being served is unchanged"):
            build_index(settings, embeddings=embeddings)
        assert Layout(settings).names() == [served]  # the unfinished generation was removed
        answer = Pipeline(settings.model_copy(update={"auto_build": False}), embeddings=embeddings).ask(
            TRUCKS
        )
        assert "40 trucks" in answer.text and answer.index_generation == served


def test_an_index_past_one_sqlite_statement_loads_and_answers(make_settings) -> None:  # type: ignore[no-untyped-def]
    """Chroma's get() of more than 32,766 rows failed ("too many SQL variables") and was reported
    as a corrupt index. The real store and catalog, a small stand-in embedder (this checks the
    index, not the model), 100-character chunks."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from index.synthetic import write_corpus

    settings = make_settings(chunk_size=100, chunk_overlap=0)
    write_corpus(PROJECT_ROOT / "seeds", settings.seeds_dir, chunks=18_000, chunks_per_document=50)
    fake = DeterministicFakeEmbedding(size=16)
    report = build_index(settings, embeddings=fake)
    assert report.total_chunks > 32_766
    answer = Pipeline(settings, embeddings=fake).ask("Who reported 12,000 troops?")
    assert answer.passages and quoted_from_its_generation(settings, answer)


def test_an_index_damaged_while_served_is_healed_on_the_question(
    make_settings, embeddings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Chroma failing mid-question (its Rust core panics on a damaged file) is the project's
    IndexCorruptError, never Chroma's own; with auto_build the damaged generation is set aside,
    rebuilt from the seeds, and the question answered from the new one."""
    settings = seeded(make_settings)
    pipeline = Pipeline(settings, embeddings=embeddings)
    first = pipeline.ask(TRUCKS)
    served = pipeline.index.served()

    class PanicException(BaseException):  # named as pyo3 names it
        pass

    def panic(*_: object, **__: object) -> None:
        raise PanicException("range end index 8 out of range for slice of length 0")

    monkeypatch.setattr(served.store, "similarity_search_with_score", panic)
    catalog = Layout(settings).current().catalog_path
    catalog.write_bytes(b"\0" * 4096 + catalog.read_bytes()[4096:])  # and the file is damaged too
    answer = pipeline.ask(TRUCKS)
    assert "40 trucks" in answer.text and answer.index_generation != first.index_generation

    from core.errors import IndexCorruptError

    monkeypatch.setattr(pipeline.index.served().store, "similarity_search_with_score", panic)
    with pytest.raises(IndexCorruptError, match="PanicException"):  # nothing damaged on disk: reported
        pipeline.ask(TRUCKS)
