"""Follow-up detection (``qa.followup``), fast tier: no model, no index.

Issue 8: after any earlier turn, a stand-alone question with a pointer word whose referent is in
the question ("… the article that reported it?") was taken for a follow-up, and its retrieval query
got the previous turn glued on. The last test measures the labelled set of
``scripts/followup_eval.py`` against its thresholds.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from core.settings import PROJECT_ROOT
from qa.followup import Resolved, leans_on_context, resolve

CONVERSATION = [
    ("user", "Who reported 12,000 troops?"),
    ("assistant", "Ukrainian intelligence places the number at 12,000 [1]."),
]


def _followup_eval() -> ModuleType:
    path = PROJECT_ROOT / "scripts/followup_eval.py"
    spec = importlib.util.spec_from_file_location("followup_eval", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "question",
    [
        "How many troops did North Korea send, according to the article that reported it?",  # the report
        "Who announced that it was highly likely that 6 North Korean officers were killed near Donetsk?",
        "When did Russia and North Korea sign their mutual defense treaty?",
        "Which scholar wrote that World War II did not start as a single global conflict?",
        "How much does it cost to visit the Tower of London?",
        "Is it true that the Eiffel Tower was meant to be temporary?",
        "What did Charles Darwin publish after he returned from the Beagle voyage?",
        "How many people live in Tokyo and how does that compare with Delhi?",
        "Who founded Amazon and when did he step down as chief executive?",
        "Are there wolves in Yellowstone?",
        "Who founded Warsaw?",
        "What is photosynthesis?",
    ],
)
def test_a_question_that_names_its_own_subject_stands_alone_after_a_conversation(question: str) -> None:
    resolved = resolve(question, CONVERSATION)
    assert resolved == Resolved(question, question, False), leans_on_context(question)


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("And how many did U.S. intelligence say?", "opens with a connective"),
        ("What about the US?", "opens with a connective"),
        ("And in 2023?", "opens with a connective"),
        ("Why?", "too little of its own"),
        ("Near which border?", "too little of its own"),
        ("Who said that?", "points back: that"),
        ("How many of them died?", "points back: them"),
        ("Where did they go next?", "points back: they"),
        ("How long did it last?", "points back: it"),
        ("In what year did he die?", "points back: he"),
        ("On what date did that strike happen?", "points back: that"),
        ("When did Ukraine launch its offensive there?", "points back: there"),
        ("What did the Pentagon say about it?", "points back: it"),
        ("Has NATO confirmed those numbers?", "points back: those"),
        ("Where did the troops go after that?", "points back: that"),
    ],
)
def test_a_question_that_cannot_stand_alone_is_a_follow_up(question: str, reason: str) -> None:
    assert leans_on_context(question) == reason
    resolved = resolve(question, CONVERSATION)
    assert resolved.is_followup and resolved.previous == "Who reported 12,000 troops?"
    assert resolved.query.startswith(f"{question} Who reported 12,000 troops?")


def test_the_answer_joins_the_query_only_when_the_question_points_into_it() -> None:
    pointing = resolve("Who said that?", CONVERSATION)
    assert (
        pointing.query
        == "Who said that? Who reported 12,000 troops? Ukrainian intelligence places the number at 12,000."
    )
    connective = resolve("And how many did U.S. intelligence say?", CONVERSATION)
    assert connective.query == "And how many did U.S. intelligence say? Who reported 12,000 troops?"


def test_without_an_earlier_user_turn_nothing_is_a_follow_up() -> None:
    for history in (None, [], [("assistant", "Hello.")], [("user", "  ")]):
        assert resolve("Who said that?", history) == Resolved("Who said that?", "Who said that?", False)


def test_the_labelled_set_meets_the_thresholds() -> None:
    evaluation = _followup_eval()
    rows = evaluation.load()
    heldout = {row["question"] for row in evaluation.heldout_rows()}
    assert len(rows) >= 500 and not heldout & {row["question"] for row in rows}  # never tuned on
    assert sum(row["origin"].startswith("squad2") for row in rows) >= 300
    assert sum(row["origin"] == "written-followup" for row in rows) >= 60
    figures = evaluation.measure(rows)
    print(f"stand-alone FP rate {figures.fp_rate:.3f}, follow-up recall {figures.recall:.3f}")
    assert figures.fp_rate <= evaluation.MAX_STANDALONE_FP
    assert figures.recall >= evaluation.MIN_RECALL
    before = evaluation.measure(rows, evaluation.pointer_anywhere)
    assert before.fp_rate > evaluation.MAX_STANDALONE_FP  # the baseline shows the issue the set measures
