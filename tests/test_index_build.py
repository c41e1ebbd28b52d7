"""Incremental builds, manifest checks and bad input, on small made-up seeds with the real model."""

from __future__ import annotations

import json
import shutil

import pytest

from index.build import build_index, embedding_record
from index.manifest import read_manifest
from index.store import chroma_client, open_index
from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError, NoSeedsError
from qa.pipeline import Pipeline

pytestmark = pytest.mark.slow

ALPHA = "Alpha Report\nThe alpha convoy carried 40 trucks to the border. Officials confirmed the convoy arrived.\n"
BETA = "Beta Report\nThe beta battalion trained for six weeks near the coast. It then moved north.\n"
GAMMA = "Gamma Report\nGamma engineers repaired two bridges in the valley. The work took a month.\n"


def count(settings) -> int:  # type: ignore[no-untyped-def]
    return chroma_client(settings).get_collection(settings.collection).count()


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

    manifest = read_manifest(settings.resolved_index_dir)
    assert sorted(manifest.documents) == ["beta.md", "gamma.txt"]
    assert count(settings) == sum(len(r.chunk_ids) for r in manifest.documents.values())
    texts = chroma_client(settings).get_collection(settings.collection).get()["documents"]
    assert any("nine weeks" in t for t in texts) and not any("six weeks" in t or "alpha" in t for t in texts)


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


def test_other_chunk_settings_or_model_are_refused_with_the_rebuild_command(
    make_settings, embeddings
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    build_index(settings, embeddings=embeddings)
    other = settings.model_copy(update={"chunk_size": 300, "chunk_overlap": 50})
    with pytest.raises(IndexMismatchError, match=r"chunks of 600 chars.*python -m index build --rebuild"):
        open_index(other, embedding_record(other))
    with pytest.raises(IndexMismatchError):
        Pipeline(other, embeddings=embeddings).ask("How many trucks?")
    with pytest.raises(IndexMismatchError):
        build_index(other, embeddings=embeddings)
    assert build_index(other, embeddings=embeddings, rebuild=True).added == ["alpha.txt"]

    # Another model: same files under another name and with other weights are another model.
    manifest_file = settings.resolved_index_dir / "manifest.json"
    data = json.loads(manifest_file.read_text())
    data["embedding"]["id"] = "some-other-model@000000000000"
    manifest_file.write_text(json.dumps(data))
    with pytest.raises(IndexMismatchError, match="built with embedding model some-other-model"):
        Pipeline(other, embeddings=embeddings).ask("How many trucks?")


def test_missing_and_corrupt_index(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(auto_build=False)
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    with pytest.raises(IndexMissingError, match="python -m index build"):
        Pipeline(settings, embeddings=embeddings).ask("How many trucks?")
    build_index(settings, embeddings=embeddings)
    (settings.resolved_index_dir / "manifest.json").write_text("{ not json")
    with pytest.raises(IndexCorruptError, match="--rebuild"):
        Pipeline(settings, embeddings=embeddings).ask("How many trucks?")
    assert build_index(settings, embeddings=embeddings, rebuild=True).added == ["alpha.txt"]
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


def test_a_seed_broken_since_indexing_is_left_out_not_misquoted(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    (settings.seeds_dir / "beta.md").write_text(BETA, encoding="utf-8")
    build_index(settings, embeddings=embeddings)
    (settings.seeds_dir / "alpha.txt").write_bytes(b"\xff\xfe broken since")
    pipeline = Pipeline(settings, embeddings=embeddings)
    answer = pipeline.ask("How long did the beta battalion train?")
    assert pipeline.stale_sources == ["alpha.txt"] and pipeline.sources() == ["beta.md"]
    assert "six weeks" in answer.text and all(p.source == "beta.md" for p in answer.passages)
    assert read_manifest(settings.resolved_index_dir).documents["alpha.txt"]  # its chunks are kept


def test_a_broken_sidecar_keeps_the_seeds_indexed_chunks(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    build_index(settings, embeddings=embeddings)
    before = count(settings)
    (settings.seeds_dir / "alpha.meta.json").write_text("{ not json", encoding="utf-8")
    report = build_index(settings, embeddings=embeddings)
    assert len(report.errors) == 1 and "alpha.meta.json" in report.errors[0]
    assert report.removed == [] and count(settings) == before
    assert "alpha.txt" in read_manifest(settings.resolved_index_dir).documents


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


def test_more_chunks_than_one_sqlite_statement_takes(make_settings) -> None:  # type: ignore[no-untyped-def]
    """Chroma's get() of every row failed past 32,766 rows ("too many SQL variables"), reported as a
    corrupt index; chunks are now read and deleted a page at a time. (A 4-number fake embedding:
    this checks the store, not the model.)"""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from index.store import PAGE, delete_chunks, read_all_chunks, vector_store

    settings = make_settings()
    store = vector_store(settings, DeterministicFakeEmbedding(size=4))
    n = 33_000
    ids = [f"c{i}" for i in range(n)]
    for first in range(0, n, 5_000):
        store.add_texts(
            texts=[f"chunk {i}" for i in range(first, min(n, first + 5_000))],
            metadatas=[{"source": "big.txt", "start": i} for i in range(first, min(n, first + 5_000))],
            ids=ids[first : first + 5_000],
        )
    chunks = read_all_chunks(store)
    assert len(chunks) == n > 32_766 and n % PAGE != 0
    assert [c.id for c in chunks[:3]] == ["c0", "c1", "c2"] and chunks[-1].metadata["start"] == n - 1
    delete_chunks(store, ids[: n - 10])
    assert [c.id for c in read_all_chunks(store)] == ids[n - 10 :]


def test_rebuild_starts_from_an_empty_folder(make_settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    """A damaged chroma.sqlite3 made `--rebuild` fail the same way as every other command, and each
    rebuild left the old collection's vector folder on disk (issue 9)."""
    settings = make_settings()
    (settings.seeds_dir / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    build_index(settings, embeddings=embeddings)
    build_index(settings, embeddings=embeddings, rebuild=True)
    chroma = settings.resolved_index_dir / "chroma"
    assert len([p for p in chroma.iterdir() if p.is_dir()]) == 1  # one collection, one vector folder

    database = chroma / "chroma.sqlite3"
    data = bytearray(database.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = bytes(range(256)) * 16  # bytes inside, not the header
    database.write_bytes(bytes(data))
    assert build_index(settings, embeddings=embeddings, rebuild=True).added == ["alpha.txt"]
    answer = Pipeline(settings, embeddings=embeddings).ask("How many trucks did the alpha convoy carry?")
    assert "40 trucks" in answer.text
    assert not settings.resolved_index_dir.with_name("index.old").exists()


def test_a_rust_panic_reading_the_index_is_a_corrupt_index_not_a_traceback() -> None:
    """Chroma's Rust core raises pyo3's PanicException, a BaseException, on some damaged files."""
    from index.store import read_all_chunks

    class PanicException(BaseException):  # named as pyo3 names it
        pass

    class Store:
        def __init__(self, error: BaseException) -> None:
            self.error = error

        def get(self, **_: object) -> dict:  # type: ignore[type-arg]
            raise self.error

    with pytest.raises(IndexCorruptError, match=r"PanicException: range end index.*--rebuild"):
        read_all_chunks(Store(PanicException("range end index 8 out of range")))  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C stays Ctrl-C
        read_all_chunks(Store(KeyboardInterrupt()))  # type: ignore[arg-type]
