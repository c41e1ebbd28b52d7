"""Each evaluation metric on small cases computed by hand, with a fake support judge.

The fake, :class:`WordJudge`, stands in for the :class:`qa.verify.SupportJudge` seam only: it
says a passage supports a claim when the passage holds every word of the claim, so what
"supported" means in each case below can be checked by eye.
"""

from __future__ import annotations

import re

import pytest

from qa.eval import metrics, summary
from qa.eval.judge_check import validate
from qa.eval.questions import EvalQuestion, SupportPair
from qa.eval.runner import score
from qa.schema import Answer, AnswerSentence, Citation, Passage


class WordJudge:
    """1.0 when every word of the claim is in the passage, else the share of words found, halved."""

    name = "words"
    threshold = 0.75

    def score(self, claim: str, passage: str) -> float:
        words = set(re.findall(r"\w+", claim.lower()))
        found = words & set(re.findall(r"\w+", passage.lower()))
        return 1.0 if words <= found else 0.5 * len(found) / len(words)


JUDGE = WordJudge()
CLAIM = "Kirby spoke on Monday"
SUPPORTING = "John Kirby spoke to reporters on Monday"
IRRELEVANT = "The weather in Seoul was mild"


# --- answers


def test_normalise_folds_case_quotes_thousands_and_markers() -> None:
    assert metrics.normalise("“Ukrainian Intelligence’s” 12,000 [1].") == '"ukrainian intelligence\'s" 12000.'
    assert metrics.normalise("1,500,000 and 2024, then  3") == "1500000 and 2024, then 3"


@pytest.mark.parametrize(
    ("answer", "expected", "found"),
    [
        ("It was 12000 [1].", "12,000", True),
        ("It was 12,000 [1].", "12000", True),
        ("It was 13,000.", "3,000", False),  # not inside a longer number
        ("UKRAINIAN INTELLIGENCE said so.", "Ukrainian intelligence", True),
        ("Kirby’s warning", "Kirby's", True),  # typographic apostrophe
        ("Kirby's warning", "Kirby", True),  # possessive
        ("Kirbyville", "Kirby", False),
        ("the engineers", "engineer", True),  # plural
    ],
)
def test_mentions(answer: str, expected: str, found: bool) -> None:
    assert metrics.mentions(answer, expected) is found


def test_answer_correct_any_of_all_of_refused_and_unscorable() -> None:
    assert metrics.answer_correct("Figures: 3,000 [1].", False, ["3,000", "12,000"]) is True
    assert metrics.answer_correct("Figures: 3,000 [1].", False, ["3,000"], ["3,000", "12,000"]) is False
    assert metrics.answer_correct("3000 and 12000", False, [], ["3,000", "12,000"]) is True
    assert metrics.answer_correct("The sources do not say 3,000.", True, ["3,000"]) is False
    assert metrics.answer_correct("anything", False, []) is None


# --- retrieval


def test_gold_quotes_match_after_folding_space_and_quotes() -> None:
    passages = [("a.txt", "Biden’s  national\nsecurity adviser, Jake Sullivan"), ("b.txt", "Other text")]
    assert metrics.gold_hits(passages, ["Biden's national security adviser"], ["a.txt"]) == [{0}, set()]


def test_gold_source_counts_only_when_no_quote_is_given() -> None:
    passages = [("a.txt", "x"), ("b.txt", "y"), ("b.txt", "z")]
    assert metrics.gold_hits(passages, [], ["b.txt"]) == [set(), {0}, {0}]
    assert metrics.gold_hits(passages, ["not there"], ["b.txt"]) == [set(), set(), set()]


def test_recall_at_k_and_mrr_by_hand() -> None:
    # Two gold quotes, A and B; ranks: 1 neither, 2 holds B, 3 neither, 4 holds A.
    passages = [("s", "nothing"), ("s", "quote b here"), ("s", "nothing"), ("s", "quote a here")]
    hits = metrics.gold_hits(passages, ["quote a", "quote b"], ["s"])
    assert hits == [set(), {1}, set(), {0}]
    assert [metrics.recall_at(hits, 2, k) for k in metrics.K_VALUES] == [0.0, 0.5, 1.0, 1.0]
    assert metrics.reciprocal_rank(hits) == 0.5
    assert metrics.reciprocal_rank([set(), set()]) == 0.0


# --- grounding (ALCE)


def test_a_citation_that_supports_nothing() -> None:
    judged = metrics.judge_sentence(JUDGE, CLAIM, [1], [IRRELEVANT])
    assert judged.supported is False and judged.precise == [False]
    assert metrics.grounding([judged]) == metrics.Grounding(0.0, 0.0, 0.0)


def test_two_citations_of_which_one_is_irrelevant() -> None:
    judged = metrics.judge_sentence(JUDGE, CLAIM, [1, 2], [SUPPORTING, IRRELEVANT])
    # Recall: together they support. Precision: [1] supports alone; [2] does not, and without it
    # [1] still supports, so [2] is not precise.
    assert judged.supported is True and judged.precise == [True, False]
    assert metrics.grounding([judged]) == metrics.Grounding(1.0, 0.5, 0.0)


def test_two_citations_needed_together_are_both_precise() -> None:
    claim = "Kirby spoke and Austin warned"
    judged = metrics.judge_sentence(JUDGE, claim, [1, 2], ["Kirby spoke", "and Austin warned"])
    assert judged.alone == [0.2, 0.3]  # 2 and 3 of 5 words, halved: neither supports alone
    assert judged.supported is True and judged.precise == [True, True]


def test_two_citations_that_each_support_alone_are_both_precise() -> None:
    judged = metrics.judge_sentence(JUDGE, CLAIM, [1, 2], [SUPPORTING, "Kirby spoke again on Monday"])
    assert judged.precise == [True, True]


def test_answer_level_grounding_by_hand() -> None:
    sentences = [
        metrics.judge_sentence(JUDGE, CLAIM, [1, 2], [SUPPORTING, IRRELEVANT]),  # supported; precise, not
        metrics.judge_sentence(JUDGE, "Austin warned of escalation", [2], [IRRELEVANT]),  # unsupported; not
        metrics.judge_sentence(JUDGE, "This sentence cites nothing", [], []),  # uncited
    ]
    found = metrics.grounding(sentences)
    assert found.citation_recall == pytest.approx(1 / 3)
    assert found.citation_precision == pytest.approx(1 / 3)  # 1 precise of 3 citations
    assert found.uncited_share == pytest.approx(1 / 3)
    assert metrics.grounding([]) == metrics.Grounding(None, None, None)  # a refusal


# --- aggregates


def test_percentile_nearest_rank() -> None:
    assert metrics.percentile([0.4, 0.1, 0.3, 0.2], 50) == 0.2  # ceil(0.5 * 4) = 2nd
    assert metrics.percentile([0.4, 0.1, 0.3, 0.2], 95) == 0.4  # ceil(3.8) = 4th
    assert metrics.percentile([7.0], 95) == 7.0 and metrics.percentile([], 50) is None


def test_mean_skips_unmeasured() -> None:
    assert metrics.mean([True, False, None, True]) == pytest.approx(2 / 3)
    assert metrics.mean([None]) is None


def test_cohen_kappa_on_a_hand_computed_table() -> None:
    # 20 pairs: human yes 10 (judge 8 yes, 2 no), human no 10 (judge 3 yes, 7 no).
    # p_o = 15/20 = 0.75; p_e = 0.5 * 0.55 + 0.5 * 0.45 = 0.5; kappa = 0.25 / 0.5 = 0.5.
    human = [True] * 10 + [False] * 10
    judge = [True] * 8 + [False] * 2 + [True] * 3 + [False] * 7
    found = metrics.agreement(human, judge)
    assert (found.true_pos, found.false_neg, found.false_pos, found.true_neg) == (8, 2, 3, 7)
    assert found.accuracy == 0.75 and found.kappa == pytest.approx(0.5)


def test_cohen_kappa_edge_cases() -> None:
    assert metrics.agreement([True, False], [True, False]).kappa == 1.0
    assert metrics.agreement([True, False], [False, True]).kappa == -1.0
    assert metrics.agreement([True, True], [True, True]).kappa is None  # p_e = 1: undefined
    with pytest.raises(ValueError, match="2 human labels but 1"):
        metrics.agreement([True, False], [True])


def test_judge_validation_per_split_and_kind() -> None:
    pairs = [
        SupportPair(id="p1", claim=CLAIM, passage=SUPPORTING, supported=True, kind="verbatim", split="dev"),
        SupportPair(id="p2", claim=CLAIM, passage=IRRELEVANT, supported=False, kind="unrelated", split="dev"),
        SupportPair(
            id="p3",
            claim="Kirby spoke on Tuesday",
            passage=SUPPORTING,
            supported=False,
            kind="wrong_date",
            split="heldout",
        ),
        SupportPair(
            id="p4",
            claim="Kirby spoke",
            passage="Kirby talked",
            supported=True,
            kind="paraphrase",
            split="heldout",
        ),
    ]
    report = validate(JUDGE, pairs)
    assert report["splits"]["dev"]["accuracy"] == 1.0 and report["splits"]["dev"]["kappa"] == 1.0
    assert report["splits"]["heldout"]["accuracy"] == 0.5  # the paraphrase is missed
    assert report["overall"]["accuracy"] == 0.75
    assert report["kinds"]["paraphrase"]["all"]["accuracy"] == 0.0
    assert [p["judge"] for p in report["pairs"]] == [True, False, False, False]


# --- one scored row and the summary over rows


def _passage(rank: int, source: str, text: str) -> Passage:
    return Passage(
        id=f"{source}#{rank}", source=source, text=text, start=0, end=len(text), rank=rank, score=1 / rank
    )


def test_a_scored_row_holds_every_metric() -> None:
    question = EvalQuestion(
        id="x1",
        question="Who spoke on Monday?",
        expected=["Kirby"],
        sources=["a.txt"],
        quotes=["Kirby spoke to reporters"],
        type="who",
    )
    answer = Answer(
        question=question.question,
        text="Kirby spoke on Monday [1][2].",
        citations=[
            Citation(n=1, source="a.txt", quote=SUPPORTING, start=0, end=39, score=1.0),
            Citation(n=2, source="b.txt", quote=IRRELEVANT, start=0, end=29, score=0.0),
        ],
        sentences=[AnswerSentence(text=CLAIM, citations=[1, 2])],
    )
    retrieved = [_passage(1, "b.txt", IRRELEVANT), _passage(2, "a.txt", SUPPORTING)]
    row = score(question, answer, retrieved, JUDGE, latency=0.25)
    m = row["metrics"]
    assert (m["recall@1"], m["recall@3"], m["mrr"]) == (0.0, 1.0, 0.5)
    assert m["answer_correct"] is True and m["false_refusal"] is False and m["refusal_correct"] is None
    assert (m["citation_recall"], m["citation_precision"], m["uncited_share"]) == (1.0, 0.5, 0.0)
    assert row["sentences"][0]["precise"] == [True, False]
    assert [r["gold"] for r in row["retrieved"]] == [[], [0]]
    assert m["fallback"] is False and row["fallback_from"] is None and row["dropped"] == []


def test_a_fallback_answer_is_counted_as_one() -> None:
    question = EvalQuestion(id="x2", question="Who spoke on Monday?", expected=["Kirby"])
    dropped = AnswerSentence(text="Austin spoke on Monday.", citations=[1], support=0.1, supported=False)
    answer = Answer(
        question=question.question,
        text="Kirby spoke on Monday [1].",
        citations=[Citation(n=1, source="a.txt", quote=SUPPORTING, start=0, end=39, score=1.0)],
        sentences=[AnswerSentence(text=CLAIM, citations=[1])],
        dropped=[dropped],
        fallback_from="llm",
        notice="The judge supported 0 of the 1 sentences the llm answerer wrote",
    )
    row = score(question, answer, [], JUDGE, latency=1.0)
    assert row["metrics"]["fallback"] is True and row["metrics"]["answer_correct"] is True
    assert (row["answerer"], row["fallback_from"]) == ("extractive", "llm")
    assert row["dropped"] == ["Austin spoke on Monday."] and row["notice"].startswith("The judge supported")


def _row(
    split: str, answerable: bool, correct: bool | None, refused: bool, latency: float, fallback: bool = False
) -> dict:
    return {
        "config": "c",
        "split": split,
        "type": "t",
        "answerable": answerable,
        "metrics": {
            "recall@1": 1.0 if answerable else None,
            "recall@3": 1.0 if answerable else None,
            "recall@5": 1.0 if answerable else None,
            "recall@10": 1.0 if answerable else None,
            "mrr": 1.0 if answerable else None,
            "answer_correct": correct,
            "refusal_correct": refused if not answerable else None,
            "false_refusal": refused if answerable else None,
            "citation_recall": None if refused else 1.0,
            "citation_precision": None if refused else 0.5,
            "uncited_share": None if refused else 0.0,
            "fallback": fallback,
            "latency_s": latency,
            "answer_chars": None if refused else 10,
        },
    }


def test_summary_per_split_and_thresholds() -> None:
    rows = [
        _row("dev", True, True, False, 0.1, fallback=True),  # right, by the fallback answerer
        _row("dev", True, False, True, 0.2),  # a false refusal
        _row("dev", False, None, True, 0.3),  # a right refusal
        _row("heldout", False, None, False, 0.4),  # answered the unanswerable
    ]
    found = summary.summarise(rows, ["c"])
    assert list(found["c"]) == ["dev", "heldout", "all"]
    dev = found["c"]["dev"]
    assert (dev["answer_accuracy"], dev["false_refusal_rate"], dev["refusal_accuracy"]) == (0.5, 0.5, 1.0)
    assert found["c"]["all"]["refusal_accuracy"] == 0.5
    assert dev["counts"] == {
        "answer_accuracy": [1, 2],
        "refusal_accuracy": [1, 1],
        "false_refusal_rate": [1, 2],
        "fallback_rate": [1, 3],
    }
    assert dev["fallback_rate"] == 0.3333 and found["c"]["heldout"]["fallback_rate"] == 0.0
    assert (dev["latency_p50_ms"], dev["latency_p95_ms"]) == (200.0, 300.0)
    assert (
        summary.check_thresholds(found, {"min_answer_accuracy": 0.5, "max_false_refusal": 0.5}, "c", "dev")
        == []
    )
    failures = summary.check_thresholds(
        found, {"min_answer_accuracy": 0.6, "max_false_refusal": 0.4}, "c", "dev"
    )
    assert [f.split(":")[0] for f in failures] == ["--min-answer-accuracy 0.6", "--max-false-refusal 0.4"]
