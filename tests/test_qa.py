"""Answers over the real index of the five seeds: citations, conflicts, abstention, follow-ups,
retrieval quality and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.errors import InvalidHistoryError, InvalidQuestionError, UnknownSourceError
from core.settings import PROJECT_ROOT
from qa.eval.questions import load_questions
from qa.eval.runner import mean_recall_at
from qa.pipeline import Pipeline
from tests.conftest import DATA

pytestmark = pytest.mark.slow
EXAMPLE_SOURCE = "001_8ecca554f728260b.txt"


def test_example_question_cites_the_sentence_that_says_so(pipeline: Pipeline) -> None:
    answer = pipeline.ask("Who reported 12,000 troops?")
    assert not answer.refused and "Ukrainian intelligence" in answer.text
    first = answer.citations[0]
    assert "[1]" in answer.text and first.n == 1 and first.source == EXAMPLE_SOURCE
    assert first.quote == "Ukrainian intelligence places the number at 12,000."
    original = (pipeline.settings.seeds_dir / EXAMPLE_SOURCE).read_text(encoding="utf-8")
    assert original[first.start : first.end] == first.quote
    assert first.score >= pipeline.judge.threshold and 0 < answer.grounding <= 1
    json.dumps(answer.to_dict())  # serialisable as is


def test_every_citation_is_an_exact_span_of_its_source(pipeline: Pipeline) -> None:
    for question in (
        "How many North Korean troops have been sent to Russia?",
        "What is Kursk?",
        "Who is Kim Yong-hyun?",
    ):
        answer = pipeline.ask(question)
        for citation in answer.citations:
            assert pipeline.index.text(citation.source)[citation.start : citation.end] == citation.quote
            assert f"[{citation.n}]" in answer.text


def test_conflicting_troop_numbers_are_each_cited_and_flagged(pipeline: Pipeline) -> None:
    answer = pipeline.ask("How many North Korean troops have been sent to Russia?")
    text = answer.text.replace(",", "")
    assert {"3000", "10000", "12000", "11000"} <= {
        n for n in ("3000", "10000", "11000", "12000") if n in text
    }
    assert "The sources give different figures" in answer.text
    assert len({c.source for c in answer.citations}) >= 3


def test_conflicting_treaty_dates_are_both_reported(pipeline: Pipeline) -> None:
    answer = pipeline.ask("When did Russia and North Korea sign their mutual defense treaty?")
    assert "June 2023" in answer.text and "different dates" in answer.text
    assert len({c.source for c in answer.citations}) >= 2


@pytest.mark.parametrize(
    "question,expected,source",
    [
        (
            "Who wrote the article about the rumor of North Korean troops in Ukraine?",
            "Hal Brands",
            "000_bb27b04e273cb384.txt",
        ),
        ("When was the article by Hal Brands posted?", "July 5, 2024", "000_bb27b04e273cb384.txt"),
        (
            "Who published Paul Poast's article on Russia's North Korea gambit?",
            "World Politics Review",
            "002_53706ec53348a28c.txt",
        ),
    ],
)
def test_questions_about_the_articles_use_their_metadata(
    pipeline: Pipeline, question: str, expected: str, source: str
) -> None:
    answer = pipeline.ask(question)
    assert expected in answer.text
    assert answer.citations[0].source == source
    assert (
        pipeline.index.text(source)[answer.citations[0].start : answer.citations[0].end]
        == answer.citations[0].quote
    )


@pytest.mark.parametrize(
    "question",
    [
        "What is the best recipe for lasagna?",  # far
        "How many moons does Jupiter have?",  # far
        "What did Emmanuel Macron say about the North Korean troops?",  # near: never mentioned
        "Who reported 15,000 North Korean troops in Russia?",  # near: a figure no article gives
    ],
)
def test_abstains_when_the_sources_do_not_say(pipeline: Pipeline, question: str) -> None:
    answer = pipeline.ask(question)
    assert answer.refused and answer.text.startswith("The sources do not say")
    assert answer.citations == [] and answer.passages  # the closest passages are still listed


def test_follow_up_is_resolved_against_the_conversation(pipeline: Pipeline) -> None:
    first = pipeline.ask("Who reported 12,000 troops?")
    history = [("user", "Who reported 12,000 troops?"), ("assistant", first.text)]
    follow = pipeline.ask("And how many did U.S. intelligence say?", history=history)
    assert "3,000" in follow.text and not follow.refused
    assert follow.resolved_question and "12,000" in follow.resolved_question
    alone = pipeline.ask("And how many did U.S. intelligence say?")
    assert alone.resolved_question is None


def test_source_filter_and_diversity(pipeline: Pipeline) -> None:
    only = pipeline.retrieve("North Korean troops in Russia", sources=["003_723e4cc2753bc6ea.txt"])
    assert only and {p.source for p in only} == {"003_723e4cc2753bc6ea.txt"}
    mixed = pipeline.retrieve("North Korean troops in Russia", top_k=6)
    assert (
        max(sum(p.source == s for p in mixed) for s in {p.source for p in mixed})
        <= pipeline.settings.max_per_source
    )
    with pytest.raises(UnknownSourceError):
        pipeline.retrieve("troops", sources=["../../etc/passwd"])


@pytest.mark.parametrize("question", ["", "   \n\t ", "x" * 20_000])
def test_bad_questions_get_a_clear_error(pipeline: Pipeline, question: str) -> None:
    with pytest.raises(InvalidQuestionError, match="empty|characters long"):
        pipeline.ask(question)


def test_bad_history_gets_a_clear_error(pipeline: Pipeline) -> None:
    with pytest.raises(InvalidHistoryError, match="History turn 1 has the role 'robot'"):
        pipeline.ask("And then?", history=[("robot", "hi")])  # type: ignore[list-item]


def test_hybrid_recall_at_5_beats_dense_and_bm25(pipeline: Pipeline) -> None:
    questions = load_questions(DATA / "dev_questions.jsonl")
    recall = {mode: mean_recall_at(pipeline, questions, 5, mode) for mode in ("hybrid", "dense", "bm25")}
    print(f"recall@5 on the development set: {recall}")
    assert recall["hybrid"] >= recall["dense"] and recall["hybrid"] >= recall["bm25"]
    assert recall["hybrid"] > min(recall["dense"], recall["bm25"])


def test_cli_prints_answer_and_sources_and_fails_cleanly(seeds_settings) -> None:  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "QA_SEEDS_DIR": str(seeds_settings.seeds_dir),
        "QA_DATA_DIR": str(seeds_settings.data_dir),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "qa", "ask", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)

    run = cli("Who reported 12,000 troops?")
    assert run.returncode == 0, run.stderr
    assert "Ukrainian intelligence" in run.stdout and EXAMPLE_SOURCE in run.stdout and "[1]" in run.stdout
    assert (
        json.loads(cli("--json", "Who reported 12,000 troops?").stdout)["citations"][0]["source"]
        == EXAMPLE_SOURCE
    )
    empty = cli("  ")
    assert empty.returncode == 1 and empty.stderr.strip().startswith("error: The question is empty")
    assert "Traceback" not in empty.stderr


def test_who_answer_quotes_the_sentence_that_names_the_speaker(pipeline: Pipeline) -> None:
    answer = pipeline.ask("Who said North Korean troops would become legitimate military targets?")
    assert "John Kirby" in answer.text and "legitimate military targets" in answer.text
    citation = answer.citations[0]
    assert pipeline.index.text(citation.source)[citation.start : citation.end] == citation.quote


def test_follow_up_to_a_question_near_the_length_limit_is_answered(pipeline: Pipeline) -> None:
    limit = pipeline.settings.max_question_chars
    first = ("Who reported 12,000 troops? " + "Please cite the article. " * limit)[: limit - 10]
    follow = pipeline.ask("And how many did U.S. intelligence say?", history=[("user", first)])
    assert not follow.refused and "3,000" in follow.text  # the question was short; its context is not


# --- issue 8: a confidence that means something, no rules keyed to the development set


def test_the_example_answer_states_its_confidence(pipeline: Pipeline) -> None:
    answer = pipeline.ask("Who reported 12,000 troops?")
    assert answer.confidence is not None and 0.0 < answer.confidence < 1.0
    assert answer.unsure == (answer.confidence < pipeline.settings.unsure_below)
    assert answer.to_dict()["confidence"] == answer.confidence


def test_a_question_the_sources_do_not_answer_is_not_answered_with_confidence(pipeline: Pipeline) -> None:
    # It was: an unrelated sentence, grounding 1.00.
    answer = pipeline.ask("How many people died in World War II?")
    assert answer.refused or answer.unsure, answer.text
    assert answer.confidence is not None and answer.confidence < pipeline.settings.unsure_below


def test_a_day_of_the_month_is_not_a_conflicting_figure() -> None:
    # It was: "The sources give different figures: 3,000, 6, 3, 8, 11,000 and 12,000" (October 3, 8th October).
    from qa.extractive.question import values

    text = "6 officers were killed near Donetsk on October 3, and 3,000 soldiers crossed by 8th October."
    assert values(text, "how_many", {"soldier", "officer"}) == {"6", "3000"}
    assert values(
        "On 3 October, 11,000 soldiers trained; by November 8 the figure was 12,000.", "how_many", {"soldier"}
    ) == {"11000", "12000"}


def test_an_imperative_question_gets_an_answer(pipeline: Pipeline) -> None:
    # It was: "The articles never mention Summarize."
    answer = pipeline.ask("Summarize what the articles say about the treaty")
    assert "never mention" not in answer.text
    assert not answer.refused and "treaty" in answer.text.lower()


def test_what_the_author_says_is_not_a_question_about_the_byline(pipeline: Pipeline) -> None:
    # It was: "The article is by Hal Brands."
    answer = pipeline.ask("What does the author say about Iran?")
    assert "The article is by" not in answer.text


def test_low_confidence_is_shown_by_the_cli(seeds_settings) -> None:  # type: ignore[no-untyped-def]
    from qa.__main__ import format_answer
    from qa.schema import Answer

    answer = Answer(question="q", text="It was 3 [1].", confidence=0.2, unsure=True)
    shown = format_answer(answer)
    assert "Confidence 20%" in shown and "Not sure: the sources may not answer this" in shown


def test_a_timeline_is_not_a_rival_estimate(pipeline: Pipeline) -> None:
    # It was: "The sources give different figures: 10,000, 11,000, 1,500, 3,000 and 12,000", the
    # 3,000 taken from "3,000 ... are being deployed ... and ... 10,000 more to be deployed".
    answer = pipeline.ask("How many North Korean troops are in Russia?")
    summary = next(s for s in answer.sentences if s.text.startswith("The sources give different"))
    quotes = {c.n: c.quote for c in answer.citations}
    assert not any("10,000 more to be deployed" in quotes[n] for n in summary.citations), answer.text


def test_a_rhetorical_question_in_an_article_is_not_an_answer(pipeline: Pipeline) -> None:
    # It was: "Why exactly does it matter that North Korea is sending troops…?" at 54 %.
    answer = pipeline.ask("Why is North Korea sending soldiers?")
    assert not answer.refused
    assert not any(s.text.rstrip(" ”’\"')").endswith("?") for s in answer.sentences), answer.text


def test_one_unknown_word_of_a_long_question_does_not_refuse_it(pipeline: Pipeline) -> None:
    # It was: a 754-character question refused with "The articles never mention Vladivostok", while
    # the closest passages listed under it answered it.
    question = (
        "I am trying to understand the deployment as a whole: where in Russia are the North Korean "
        "troops being trained, what are they expected to do in the war against Ukraine, how many of "
        "them have been sent according to the intelligence agencies of South Korea, Ukraine and the "
        "United States, and did any of them pass through Zelenogorsk on the way to the front?"
    )
    answer = pipeline.ask(question)
    assert not answer.refused and "never mention" not in answer.text, answer.text
    # A short question about the unknown name itself is still refused.
    short = pipeline.ask("What happened in Zelenogorsk?")
    assert short.refused and "never mention Zelenogorsk" in short.text, short.text
