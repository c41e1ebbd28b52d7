"""Answerers and judges by name (no model: the embedder is never called)."""

from __future__ import annotations

import pytest

from core.errors import InvalidOptionError
from core.settings import Settings
from qa.registry import Models, make_answerer


def test_an_unknown_answerer_is_an_option_error_naming_the_answerer_field() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    models = Models(settings, embed=lambda texts: [[0.0] for _ in texts])
    with pytest.raises(InvalidOptionError, match="Unknown answerer 'gpt'; available: extractive") as raised:
        make_answerer("gpt", settings, models)
    assert raised.value.field == "answerer"
