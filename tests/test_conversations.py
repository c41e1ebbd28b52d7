"""The conversation handlers' own parts, fast (no model, no browser): the copy text with its
footnotes, the line under an answer, titles, and saving an exchange through a stand-in chat.
The browser tests are tests/test_browser_conversations.py.

    python -m pytest tests/test_conversations.py -q
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from index.metadata import DocumentMetadata
from qa.schema import Answer, Citation
from ui.conversations import Conversations, copy_text, render_actions, title_for
from ui.store import ChatStore

QUOTE = 'Ukrainian intelligence places the number at <12,000> & "more".'
ANSWER = Answer(
    question="Who reported 12,000 troops?",
    text="Ukrainian intelligence places the number at 12,000 [1].",
    citations=[Citation(n=1, source="001.txt", quote=QUOTE, start=673, end=724, score=1.0)],
    answerer="extractive",
    index_generation="g1",
)
META = {
    "001.txt": DocumentMetadata(
        title="The West did nothing", publisher="The Hill", url="https://thehill.com/x"
    )
}


def test_copy_text_has_the_citations_as_footnotes() -> None:
    assert copy_text(ANSWER, META) == (
        "Ukrainian intelligence places the number at 12,000 [1].\n\n"
        f'[1] The West did nothing, The Hill — "{QUOTE}" (001.txt, chars 673-724, https://thehill.com/x)'
    )
    assert copy_text(ANSWER, {}).endswith(f'[1] 001.txt — "{QUOTE}" (001.txt, chars 673-724)')


def test_the_line_under_an_answer_is_one_escaped_block() -> None:
    line = render_actions(ANSWER, 0.0384, META)
    assert "\n" not in line and "<12,000>" not in line  # no blank line for Markdown, no markup from a quote
    hidden = re.search(r'<span class="qa-copy-text">(.*?)</span>', line).group(1)
    assert html.unescape(hidden) == copy_text(ANSWER, META)
    assert "answered in 38 ms by extractive" in line
    assert "answered in 2.5 s by extractive" in render_actions(ANSWER, 2.46, META)


def test_titles() -> None:
    assert title_for("  Who reported\n12,000 troops? ") == "Who reported 12,000 troops?"
    long = title_for("What did Kremlin spokesman Dmitry Peskov call the reports of North Korean troops?")
    assert long.endswith("…") and len(long) <= 61 and not long.endswith(" …")


class StandInChat:
    """Chat.respond's contract: yields (chat, turns, box); calls on_answer with the answer."""

    def metadata(self, sources):  # type: ignore[no-untyped-def]
        return {}

    def respond(self, question, chat, turns, top_k, answerer, show_passages, on_answer=None):  # type: ignore[no-untyped-def]
        chat = [*chat, {"role": "user", "content": question}]
        yield [*chat, {"role": "assistant", "content": "…"}], turns, ""
        answer = ANSWER.model_copy(update={"question": question})
        final = "<div>answer</div>" + on_answer(answer, 0.5)
        yield (
            [*chat, {"role": "assistant", "content": final}],
            [*turns, ["user", question], ["assistant", answer.text]],
            "",
        )


def test_an_exchange_is_saved_and_reopened(tmp_path: Path) -> None:
    conversations = Conversations(StandInChat(), ChatStore(tmp_path / "app.sqlite3"))  # type: ignore[arg-type]
    *_, (chat, turns, _, cid) = conversations.respond("q1", [], [], 6, "extractive", False, "")
    *_, (chat, turns, _, same) = conversations.respond("q2", chat, turns, 6, "extractive", False, cid)
    assert same == cid and len(conversations.store.conversations()) == 1
    reopened, reopened_turns, *_ = conversations.open(cid)
    assert reopened == chat and reopened_turns == turns == [
        ["user", "q1"],
        ["assistant", ANSWER.text],
        ["user", "q2"],
        ["assistant", ANSWER.text],
    ]
    last = conversations.store.message_at(cid, 3)
    assert last.history == turns[:2] and last.elapsed == 0.5 and last.answer["question"] == "q2"
    assert conversations.open("gone")[:3] == ([], [], "")


def test_regenerate_asks_the_last_question_again_with_its_history(tmp_path: Path) -> None:
    conversations = Conversations(StandInChat(), ChatStore(tmp_path / "app.sqlite3"))  # type: ignore[arg-type]
    *_, (chat, turns, _, cid) = conversations.respond("q1", [], [], 6, "extractive", False, "")
    *_, (chat, turns, _, _) = conversations.respond("q2", chat, turns, 6, "extractive", False, cid)
    old = conversations.store.message_at(cid, 3)
    *_, (again, again_turns, _, same) = conversations.regenerate(chat, 6, "extractive", False, cid)
    assert same == cid and len(again) == 4 and again_turns == turns
    new = conversations.store.message_at(cid, 3)
    assert new.id != old.id and new.history == old.history
    assert [m.text for m in conversations.store.messages(cid) if m.role == "user"] == ["q1", "q2"]
