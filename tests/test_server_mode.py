"""Server mode: the index lives in a real `chroma run` server on loopback, started by the test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import QAError
from core.settings import Settings
from index.build import build_index
from qa.pipeline import Pipeline
from tests.conftest import SEEDS

pytestmark = [pytest.mark.server, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    # The chromadb package installs `chroma` beside the interpreter; the venv need not be on PATH.
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if chroma is None:
        pytest.fail("the `chroma` command of the chromadb package is missing: reinstall chromadb")
    port = free_port()
    server = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("chroma run did not start") from None
                time.sleep(0.3)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_build_and_ask_through_a_chroma_server(chroma_server: int, tmp_path: Path, embeddings) -> None:  # type: ignore[no-untyped-def]
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEEDS / "001_8ecca554f728260b.txt", seeds)
    shutil.copy(SEEDS / "003_723e4cc2753bc6ea.txt", seeds)
    settings = Settings(  # type: ignore[call-arg]
        seeds_dir=seeds,
        data_dir=tmp_path / "data",
        chroma_host="127.0.0.1",
        chroma_port=chroma_server,
        _env_file=None,
    )
    report = build_index(settings, embeddings=embeddings)
    assert sorted(report.added) == ["001_8ecca554f728260b.txt", "003_723e4cc2753bc6ea.txt"]
    assert not (tmp_path / "data" / "index" / "chroma").exists()  # nothing stored locally but the manifest
    answer = Pipeline(settings, embeddings=embeddings).ask("Who reported 12,000 troops?")
    assert (
        "Ukrainian intelligence" in answer.text and answer.citations[0].source == "001_8ecca554f728260b.txt"
    )
    assert build_index(settings, embeddings=embeddings).unchanged == report.added


def test_unreachable_server_is_a_clear_error(tmp_path: Path, embeddings) -> None:  # type: ignore[no-untyped-def]
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEEDS / "001_8ecca554f728260b.txt", seeds)
    settings = Settings(  # type: ignore[call-arg]
        seeds_dir=seeds,
        data_dir=tmp_path / "data",
        chroma_host="127.0.0.1",
        chroma_port=free_port(),
        _env_file=None,
    )
    with pytest.raises(QAError, match="Cannot reach the Chroma server"):
        build_index(settings, embeddings=embeddings)


def test_a_second_machine_serves_the_same_generations(chroma_server: int, tmp_path: Path, embeddings) -> None:  # type: ignore[no-untyped-def]
    """The published pointer and the catalog live on the server: a machine with an empty data
    folder answers from what another built, and follows its next build without a restart."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEEDS / "001_8ecca554f728260b.txt", seeds)

    def machine(name: str) -> Settings:
        return Settings(  # type: ignore[call-arg]
            seeds_dir=seeds if name == "a" else tmp_path / "b-seeds",  # b has no seeds at all
            data_dir=tmp_path / name,
            chroma_host="127.0.0.1",
            chroma_port=chroma_server,
            auto_build=name == "a",
            _env_file=None,
        )

    first = build_index(machine("a"), embeddings=embeddings)
    b = Pipeline(machine("b"), embeddings=embeddings)
    answer = b.ask("Who reported 12,000 troops?")
    assert "Ukrainian intelligence" in answer.text and answer.index_generation == first.generation
    assert (
        b.index.document("001_8ecca554f728260b.txt").text == (seeds / "001_8ecca554f728260b.txt").read_text()
    )

    shutil.copy(SEEDS / "003_723e4cc2753bc6ea.txt", seeds)
    second = build_index(machine("a"), embeddings=embeddings)
    assert second.added == ["003_723e4cc2753bc6ea.txt"]
    time.sleep(1.1)  # b asks the server for the published generation at most once a second
    assert "003_723e4cc2753bc6ea.txt" in b.index.sources()
    assert b.ask("Who reported 12,000 troops?").index_generation == second.generation

    third = build_index(machine("a"), embeddings=embeddings, rebuild=True)
    names = sorted(c.name for c in Pipeline(machine("a")).index.served().store._client.list_collections())
    assert names == sorted(
        [f"seeds-{g}" for g in (second.generation, third.generation)]
        + [f"seeds--catalog-{g}" for g in (second.generation, third.generation)]
        + ["seeds--current"]
    )  # the first generation is gone from the server
