"""Shared fixtures: one real index of the project's seeds, built once per test session in a
temporary folder with the real packaged embedding model, and a pipeline over it.

The fast tier (``pytest -m fast``): every test not marked ``slow``, ``browser``, ``server`` or
``llm`` and using none of the model fixtures below is marked ``fast``, and runs with the
embedding model taken away (:func:`_no_models_in_fast_tests`), so a fast test that loads it
fails instead of passing slowly.
"""

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

from core.settings import PROJECT_ROOT, Settings  # noqa: E402
from ui.settings import AppSettings  # noqa: E402

SEEDS = PROJECT_ROOT / "seeds"
MODEL_FIXTURES = {"embeddings", "seeds_settings", "pipeline"}
HEAVY = {"slow", "browser", "server", "llm"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test using a model fixture is ``slow``; one in no heavy tier is ``fast``."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        elif not HEAVY & {m.name for m in item.iter_markers()}:
            item.add_marker(pytest.mark.fast)


@pytest.fixture(autouse=True)
def _no_models_in_fast_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a fast test the embedding model cannot be found: looking for its folder fails the test."""
    if request.node.get_closest_marker("fast") is None:
        return

    def no_model() -> Path:
        raise AssertionError("a fast test looked for the embedding model: mark it slow")

    def no_reader(*args: object) -> None:
        raise AssertionError("a fast test loaded the reader model: pass a fake reader, or mark it slow")

    import core.settings
    import qa.reader

    monkeypatch.setattr(core.settings, "packaged_model_dir", no_model)
    monkeypatch.setattr(qa.reader, "load_reader", no_reader)


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
    """Settings (the app's, a superset of the pipeline's) over an empty seeds folder of the test's
    own, to fill with made-up documents."""

    def make(**overrides: object) -> AppSettings:
        seeds = tmp_path / "seeds"
        seeds.mkdir(exist_ok=True)
        values: dict[str, object] = {"seeds_dir": seeds, "data_dir": tmp_path / "data", **overrides}
        return AppSettings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]

    yield make


def index_cli(settings: Settings, *args: str, **options: object) -> subprocess.CompletedProcess[str]:
    """``python -m index ARGS`` in a process of its own, on ``settings``' seeds and index folders."""
    command = [sys.executable, "-m", "index", *args, "--seeds", str(settings.seeds_dir)]
    command += ["--index", str(settings.resolved_index_dir)]
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, **options)  # type: ignore[call-overload, no-any-return]
