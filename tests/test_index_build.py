"""Incremental builds, manifest checks and bad input, on small made-up seeds with the real model."""

from __future__ import annotations

import shutil

import pytest

from core.errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    NoSeedsError,
    UnknownSourceError,
)
from index.build import build_index
from index.catalog import Catalog
from index.generations import Layout
from index.store import chroma_client
from qa.pipeline import Pipeline
from tests.conftest import index_cli

pytestmark = pytest.mark.slow

ALPHA = "Alpha Report\nThe alpha convoy carried 40 trucks to the border. Officials confirmed the convoy arrived.\n"
BETA = "Beta Report\nThe beta battalion trained for six weeks near the coast. It then moved north.\n"
TRUCKS_QUESTION = "How many trucks did the alpha convoy carry?"
GAMMA = "Gamma Report\nGamma engineers repaired two bridges in the valley. The work took a month.\n"


def collection(settings):  # type: ignore[no-untyped-def]
    generation = Layout(settings).current()
    return chroma_client(settings, generation).get_collection(generation.collection)


def count(settings) -> int:  # type: ignore[no-untyped-def]
    return collection(settings).count()


def catalog(settings) -> Catalog:  # type: ignore[no-untyped-def]
    return Catalog(Layout(settings).current().catalog_path)


def test_incremental_build_adds_changes_and_deletes(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    (settings.seeds_dir / "beta.md").write_text(BETA, encoding="utf-8")
    first = build_index(settings, embeddings=embeddings)
    assert sorted(first.added) == ["alpha.txt", "beta.md"] and first.chunks_embedded == count(settings) > 0

    again = build_index(settings, embeddings=embeddings)
    assert again.unchanged == ["alpha.txt", "beta.md"] and again.chunks_embedded == 0

    (settings.seeds_dir / "gamma.txt").write_text(GAMMA, encoding="utf-8")
    (settings.seeds_dir / "beta.md").write_text(BETA.replace("six", "nine"), encoding="utf-8")
    (settings.seeds_dir / "alpha.txt").unlink()
    changed = build_index(settings, embeddings=embeddings)
    assert (changed.added, changed.updated, changed.removed) == (["gamma.txt"], ["beta.md"], ["alpha.txt"])

    assert catalog(settings).sources() == ["beta.md", "gamma.txt"]
    assert count(settings) == catalog(settings).chunk_count() == changed.total_chunks
    texts = collection(settings).get()["documents"]
    assert any("nine weeks" in t for t in texts) and not any("six weeks" in t or "alpha" in t for t in texts)
    assert catalog(settings).search(["alpha"], 5) == []  # the lexical index follows too
    assert [row["source"] for row, _ in catalog(settings).search(["nine", "week"], 5)] == ["beta.md"]
    assert Layout(settings).names() == [again.generation, changed.generation]  # the one before is kept


def test_unreadable_seed_is_reported_and_the_rest_index(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    (settings.seeds_dir / "latin1.txt").write_bytes("Caf\xe9 report.".encode("latin-1"))
    (settings.seeds_dir / "notes.pdf").write_bytes(b"%PDF-1.4")
    report = build_index(settings, embeddings=embeddings)
    assert report.added == ["alpha.txt"]
    assert len(report.errors) == 1 and "latin1.txt: not valid UTF-8" in report.errors[0]
    assert report.skipped == ["notes.pdf"]


def test_a_seed_that_turns_unreadable_keeps_its_indexed_chunks(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    build_index(settings, embeddings=embeddings)
    before = count(settings)
    (settings.seeds_dir / "alpha.txt").write_bytes(b"\xff\xfe broken")
    report = build_index(settings, embeddings=embeddings)
    assert report.removed == [] and count(settings) == before


def test_empty_or_missing_seeds_folder(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NoSeedsError, match="No .txt or .md files"):
        build_index(make_settings())
    shutil.rmtree(tmp_path / "seeds")
    with pytest.raises(NoSeedsError, match="does not exist"):
        build_index(make_settings(seeds_dir=tmp_path / "nowhere"))


def test_other_chunk_settings_or_model_are_refused_or_rebuilt(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    """`index build` and a pipeline that does not build refuse an index of other settings with the
    rebuild command; an auto-building pipeline (the app) rebuilds it and answers."""
    settings = make_settings()
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    build_index(settings, embeddings=embeddings)
    other = settings.model_copy(update={"chunk_size": 300, "chunk_overlap": 50, "auto_build": False})
    with pytest.raises(IndexMismatchError, match=r"chunks of 600 chars.*python -m index build --rebuild"):
        Pipeline(other, embeddings=embeddings).ask("How many trucks?")
    with pytest.raises(IndexMismatchError):
        build_index(other, embeddings=embeddings)
    assert build_index(other, embeddings=embeddings, rebuild=True).added == ["alpha.txt"]

    # Another model: same files under another name and with other weights are another model.
    writable = Catalog(Layout(other).current().catalog_path, writable=True)
    writable.set_meta({"embedding": {"id": "some-other-model@000000000000", "dimension": 384}})
    writable.close()
    with pytest.raises(IndexMismatchError, match="built with embedding model some-other-model"):
        Pipeline(other, embeddings=embeddings).ask("How many trucks?")
    building = other.model_copy(update={"auto_build": True})
    answer = Pipeline(building, embeddings=embeddings).ask("How many trucks did the alpha convoy carry?")
    assert "40 trucks" in answer.text and answer.index_generation == Layout(other).current_name()


def test_missing_and_corrupt_index(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(auto_build=False)
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    with pytest.raises(IndexMissingError, match="python -m index build"):
        Pipeline(settings, embeddings=embeddings).ask("How many trucks?")
    build_index(settings, embeddings=embeddings)
    Layout(settings).current().catalog_path.write_bytes(b"{ not a database")
    with pytest.raises(IndexCorruptError, match="python -m index build"):
        Pipeline(settings, embeddings=embeddings).ask("How many trucks?")
    report = build_index(settings, embeddings=embeddings)  # no --rebuild needed: set aside, rebuilt
    assert report.added == ["alpha.txt"] and "moved to" in report.healed
    answer = Pipeline(settings, embeddings=embeddings).ask("How many trucks did the alpha convoy carry?")
    assert "40 trucks" in answer.text


def test_first_question_builds_a_missing_index(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    (settings.seeds_dir / "beta.md").write_text(BETA, encoding="utf-8")
    answer = Pipeline(settings, embeddings=embeddings).ask("How long did the beta battalion train?")
    assert "six weeks" in answer.text and answer.citations[0].source == "beta.md"


def test_the_pipeline_follows_edits_to_the_seeds(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    seed = settings.seeds_dir / "alpha.txt"
    seed.write_text(ALPHA, encoding="utf-8")
    (settings.seeds_dir / "beta.md").write_text(BETA, encoding="utf-8")
    build_index(settings, embeddings=embeddings)
    seed.write_text("Alpha Report\nA new first line.\n" + ALPHA.split("\n", 1)[1], encoding="utf-8")
    answer = Pipeline(settings, embeddings=embeddings).ask("How many trucks did the alpha convoy carry?")
    citation = answer.citations[0]
    assert seed.read_text(encoding="utf-8")[citation.start : citation.end] == citation.quote  # re-indexed


@pytest.mark.parametrize("auto_build", [True, False], ids=["auto-build", "no-auto-build"])
def test_a_seed_that_changed_and_cannot_be_read_is_left_out_of_answers(
    make_settings, embeddings, auto_build
) -> None:  # type: ignore[no-untyped-def]
    """Issue 17, case 7: a seed broken since indexing was still cited at its old offsets and
    ``stale_sources`` was empty with auto-build on. Its chunks are kept (nothing to embed again once
    the file is fixed) but no answer cites them; the document view still shows the text indexed, so
    a citation given before still opens at its quote; `index status` and the library say so."""
    from ui.library import Library
    from ui.status import IndexStatus

    settings = make_settings(auto_build=auto_build, watch_seeds=0)
    alpha = settings.seeds_dir / "alpha.txt"
    alpha.write_text(ALPHA, encoding="utf-8")
    (settings.seeds_dir / "beta.md").write_text(BETA, encoding="utf-8")
    build_index(settings, embeddings=embeddings)
    running = Pipeline(settings, embeddings=embeddings)  # answering before the file breaks, as the app
    before = running.ask(TRUCKS_QUESTION)
    assert "40 trucks" in before.text and before.citations[0].source == "alpha.txt"
    with alpha.open("ab") as file:
        file.write(b"\xff\xfe")

    running.index.check_seeds()  # the watcher's look
    fresh = Pipeline(settings, embeddings=embeddings)  # a process started since (`qa ask`)
    for pipeline in (running, fresh):
        answer = pipeline.ask(TRUCKS_QUESTION)
        assert "40 trucks" not in answer.text and all(p.source == "beta.md" for p in answer.passages)
        assert pipeline.index.stale_sources == ["alpha.txt"] and pipeline.index.sources() == ["beta.md"]
        citation = before.citations[0]
        assert pipeline.index.document("alpha.txt").text[citation.start : citation.end] == citation.quote
        with pytest.raises(UnknownSourceError, match="alpha.txt is left out of answers.*not valid UTF-8"):
            pipeline.ask(TRUCKS_QUESTION, sources=["alpha.txt"])

    status = index_cli(settings, "status")
    assert status.returncode == 0, status.stderr
    assert "alpha.txt: 1 chunks" in status.stdout and "left out of answers: its file changed" in status.stdout
    assert (
        "not valid UTF-8" in status.stdout and "2 documents, 2 chunks; 1 left out of answers" in status.stdout
    )
    ready = IndexStatus()
    ready.finish("Ready")
    row = {r.source: r.status for r in Library(running, ready).rows()}["alpha.txt"]
    assert row.startswith("failed: alpha.txt: not valid UTF-8") and "left out of answers" in row

    alpha.write_text(ALPHA.replace("40", "41"), encoding="utf-8")  # fixed: indexed and cited again
    running.index.check_seeds()
    if not auto_build:
        build_index(settings, embeddings=embeddings)
    answer = running.ask(TRUCKS_QUESTION)
    assert (
        "41 trucks" in answer.text
        and running.index.stale_sources == []
        and "alpha.txt" in running.index.sources()
    )
    running.close()
    fresh.close()


def test_a_broken_sidecar_keeps_the_seeds_indexed_chunks(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    build_index(settings, embeddings=embeddings)
    before = count(settings)
    (settings.seeds_dir / "alpha.meta.json").write_text("{ not json", encoding="utf-8")
    report = build_index(settings, embeddings=embeddings)
    assert len(report.errors) == 1 and "alpha.meta.json" in report.errors[0]
    assert report.removed == [] and count(settings) == before
    assert "alpha.txt" in catalog(settings).sources()


def test_a_sidecar_field_is_cited_to_real_text(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    (settings.seeds_dir / "note.txt").write_text(
        "The convoy carried 40 trucks to the border. Officials confirmed it arrived.\n", encoding="utf-8"
    )
    (settings.seeds_dir / "note.meta.json").write_text('{"author": "Jane Roe"}', encoding="utf-8")
    answer = Pipeline(settings, embeddings=embeddings).ask("Who wrote the article about the convoy?")
    assert "Jane Roe" in answer.text
    citation = answer.citations[0]
    assert (
        citation.quote == "The convoy carried 40 trucks to the border."
    )  # no title line: the opening sentence
    assert (settings.seeds_dir / "note.txt").read_text()[citation.start : citation.end] == citation.quote


def test_links_out_of_the_seeds_folder_are_never_read(make_settings, embeddings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A symlink in seeds/ to /etc/passwd was indexed and quoted (issue 10)."""
    settings = make_settings()
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text(
        "Secret Report\nThe vault code is 4471 and only the owner knows it.\n", encoding="utf-8"
    )
    (settings.seeds_dir / "leak.txt").symlink_to(secret)
    (settings.seeds_dir / "nested").mkdir()
    (settings.seeds_dir / "nested" / "alias.md").symlink_to(settings.seeds_dir / "alpha.txt")  # inside: fine
    outside_dir = tmp_path / "elsewhere"
    outside_dir.mkdir()
    (outside_dir / "more.txt").write_text(GAMMA, encoding="utf-8")
    (settings.seeds_dir / "linked-dir").symlink_to(outside_dir, target_is_directory=True)
    report = build_index(settings, embeddings=embeddings)
    assert report.outside == ["leak.txt"]  # a linked folder is not walked into at all
    assert report.added == ["alpha.txt"] and report.duplicates == {"nested/alias.md": "alpha.txt"}
    assert catalog(settings).sources() == ["alpha.txt"]
    answer = Pipeline(settings, embeddings=embeddings).ask("What is the vault code?")
    assert all(p.source == "alpha.txt" for p in answer.passages) and "4471" not in answer.text


def test_duplicate_seeds_are_indexed_once_and_named(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    """Two identical seeds under different names put the same sentence twice in one answer (issue 10)."""
    settings = make_settings()
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    build_index(settings, embeddings=embeddings)
    (settings.seeds_dir / "copy of alpha.txt").write_text(ALPHA, encoding="utf-8")
    report = build_index(settings, embeddings=embeddings)  # only the duplicate changed: still noted
    assert report.duplicates == {"copy of alpha.txt": "alpha.txt"} and catalog(settings).sources() == [
        "alpha.txt"
    ]
    answer = Pipeline(settings, embeddings=embeddings).ask(TRUCKS_QUESTION)
    assert answer.text.count("40 trucks") == 1
    status = index_cli(settings, "status", check=True)
    assert "copy of alpha.txt: not indexed, same content as alpha.txt" in status.stdout


def test_an_index_of_an_older_format_is_rebuilt_from_the_seeds(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    """An index this version cannot read (an older format version in its manifest, or the layout
    before generations, files at the top of the index folder) is refused with the command that
    rebuilds it when builds are off, and rebuilt from the seeds on the first question when on."""
    settings = make_settings(auto_build=False)
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    build_index(settings, embeddings=embeddings)
    writable = Catalog(Layout(settings).current().catalog_path, writable=True)
    writable.set_meta({"format_version": 1})
    writable.close()
    with pytest.raises(IndexMismatchError, match=r"format 1, this version reads format \d+.*--rebuild"):
        Pipeline(settings, embeddings=embeddings).ask(TRUCKS_QUESTION)
    building = settings.model_copy(update={"auto_build": True})
    answer = Pipeline(building, embeddings=embeddings).ask(TRUCKS_QUESTION)
    assert "40 trucks" in answer.text and not answer.refused

    legacy = make_settings(data_dir=settings.data_dir.parent / "legacy", auto_build=False)
    root = legacy.resolved_index_dir
    (root / "chroma").mkdir(parents=True)
    (root / "chroma" / "chroma.sqlite3").write_bytes(b"an index of the format before generations")
    (root / "manifest.json").write_text('{"format_version": 2}', encoding="utf-8")
    with pytest.raises(IndexMissingError, match="older format: run `python -m index build`"):
        Pipeline(legacy, embeddings=embeddings).ask(TRUCKS_QUESTION)
    answer = Pipeline(legacy.model_copy(update={"auto_build": True}), embeddings=embeddings).ask(
        TRUCKS_QUESTION
    )
    assert "40 trucks" in answer.text and not answer.refused
    assert not (root / "manifest.json").exists() and not (root / "chroma").exists()
