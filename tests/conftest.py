"""Shared fixtures: one real index of the project's seeds, built once per test session in a
temporary folder with the real packaged embedding model, and a pipeline over it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"

from qa.settings import PROJECT_ROOT, Settings  # noqa: E402

SEEDS = PROJECT_ROOT / "seeds"
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def embeddings():  # type: ignore[no-untyped-def]
    """The real all-MiniLM-L6-v2 (int8 ONNX, the default), loaded once."""
    from index.embed import embedder

    return embedder(Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def seeds_settings(tmp_path_factory: pytest.TempPathFactory, embeddings) -> Settings:  # type: ignore[no-untyped-def]
    """Settings over a copy of the project's seeds with a real index built in a temp folder."""
    from index.build import build_index

    root = tmp_path_factory.mktemp("seeds-index")
    seeds = root / "seeds"
    shutil.copytree(SEEDS, seeds)
    settings = Settings(seeds_dir=seeds, data_dir=root / "data", _env_file=None)  # type: ignore[call-arg]
    build_index(settings, embeddings=embeddings)
    return settings


@pytest.fixture(scope="session")
def pipeline(seeds_settings: Settings, embeddings):  # type: ignore[no-untyped-def]
    from qa.pipeline import Pipeline

    return Pipeline(seeds_settings, embeddings=embeddings)


@pytest.fixture
def make_settings(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """Settings over an empty seeds folder of the test's own, to fill with made-up documents."""

    def make(**overrides: object) -> Settings:
        seeds = tmp_path / "seeds"
        seeds.mkdir(exist_ok=True)
        values: dict[str, object] = {"seeds_dir": seeds, "data_dir": tmp_path / "data", **overrides}
        return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]

    yield make


def index_cli(settings: Settings, *args: str, **options: object) -> subprocess.CompletedProcess[str]:
    """``python -m index ARGS`` in a process of its own, on ``settings``' seeds and index folders."""
    command = [sys.executable, "-m", "index", *args, "--seeds", str(settings.seeds_dir)]
    command += ["--index", str(settings.resolved_index_dir)]
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, **options)  # type: ignore[call-overload, no-any-return]
