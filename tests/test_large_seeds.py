"""Large seeds do not block the rest (issue 10): a build publishes the small seeds first, and
questions are answered from them while a large seed is still being embedded; the app, the
pipeline and `index status` show what is pending and how far it is; a build killed during the
large seed leaves the partial generation served, and the next build finishes the job.

Real parts: the five project seeds, a generated 80 KB seed, the real (int8 ONNX) model, real
Chroma in a temporary folder, real `python -m index` processes. The build is held at a known point
(while the large seed's embedding is halfway) by the embedder itself, not by timing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from index.build import build_index, publish_points
from index.generations import Layout
from index.synthetic import write_large_seed
from qa.pipeline import Pipeline
from qa.settings import PROJECT_ROOT
from tests.conftest import SEEDS, index_cli

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


def test_publish_points() -> None:
    assert publish_points([100, 200, 5000], 2000) == [2]  # before the large one
    assert publish_points([5000, 6000], 2000) == [1]  # the first large one, then the second
    assert publish_points([100, 200, 5000], 0) == []  # off
    assert publish_points([100, 200, 300], 2000) == []  # a short build publishes once
    assert publish_points([100, 5000], 6000) == []  # nothing over the limit
    assert publish_points([900] * 6, 1000) == [2, 4]  # a long build: each time as much again is done


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
        while not ((p := layout.read_progress()) and p["source"] == "big.txt" and p["embedded"] > 0):
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
    assert "build running" not in shown.stdout and "5 documents" in shown.stdout

    served = Pipeline(settings.model_copy(update={"auto_build": False}), embeddings=embeddings)
    answer = served.ask(QUESTION)
    assert "Ukrainian intelligence" in answer.text and answer.index_generation == partial
    served.close()

    report = build_index(settings, embeddings=embeddings)  # the next build finishes the job
    assert report.added == ["big.txt"] and len(report.unchanged) == 5 and report.pending == []
    assert layout.names() == [partial, report.generation]  # the killed build's folder removed, not the served
    pipeline = Pipeline(settings, embeddings=embeddings)
    assert "4,321" in pipeline.ask(BIG_QUESTION).text
    pipeline.close()
