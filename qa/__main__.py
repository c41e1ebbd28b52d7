"""Command line: ``python -m qa ask "Who reported 12,000 troops?" [--json] [--stream] [--answerer llm]``.

Prints the answer and a numbered source list (title, file, URL, the quoted sentence, the judge's
score); ``--json`` prints ``Answer.to_dict()``. ``--stream`` prints the answer as it is written,
then the verified answer (markers renumbered, unsupported sentences removed or marked) with its
sources. Bad input and every other error print one line (``error: …``) and exit 1; control
characters from a document never reach the terminal raw (:mod:`core.display`); an LLM failure prints its message and the extractive
answer. ``python -m qa eval …`` runs the evaluation (see ``python -m qa.eval --help``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
from collections.abc import Iterator

from core.display import visible
from core.errors import QAError
from core.settings import Settings
from qa.schema import Answer, AnswerEvent, NoticeEvent, TokenEvent


def format_answer(answer: Answer, width: int = 100) -> str:
    """The answer as plain text with its numbered sources beneath."""
    lines = [f"Note: {answer.notice}\n"] if answer.notice else []
    lines.append(textwrap.fill(answer.text, width))
    unsupported = [s for s in answer.sentences if not s.supported]
    for sentence in unsupported:
        lines.append(f"  (unsupported, judge score {sentence.support:.2f}: {sentence.text})")
    if answer.dropped:
        lines.append(f"\nRemoved as unsupported by the sources ({answer.judge} judge):")
        for sentence in answer.dropped:
            lines.append(
                textwrap.fill(
                    f"- {sentence.text} (score {sentence.support:.2f})", width, subsequent_indent="  "
                )
            )
    if answer.refused:
        lines.append("\nClosest passages:")
        for passage in answer.passages[:3]:
            lines.append(f"  - {_name(passage.source)}: {textwrap.shorten(passage.text, width - 6)}")
        return "\n".join(lines)
    if answer.confidence is not None:
        lines.append(f"\nConfidence {answer.confidence:.0%} that this answers the question.")
    if answer.unsure:
        lines.append("Not sure: the sources may not answer this. Closest passages:")
        cited = {(c.source, c.start) for c in answer.citations}
        for passage in [p for p in answer.passages if (p.source, p.start) not in cited][:3]:
            lines.append(f"  - {_name(passage.source)}: {textwrap.shorten(passage.text, width - 6)}")
    lines.append(f"\nSources (answered by {answer.answerer}; quotes checked by the {answer.judge} judge):")
    for citation in answer.citations:
        lines.append(f"[{citation.n}] {citation.title or _name(citation.source)}")
        lines.append(
            f"    file: {_name(citation.source)} (chars {citation.start}-{citation.end}), quote support {citation.score:.2f}"
        )
        if citation.url:
            lines.append(f"    url:  {citation.url}")
        lines.append(textwrap.indent(textwrap.fill(f"“{citation.quote}”", width - 4), "    "))
    return "\n".join(lines)


def _name(source: str) -> str:
    """A document's file name as shown: on one line, its controls as escapes (``new\\nline.txt``)."""
    return visible(source, one_line=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["eval"]:
        from qa.eval.__main__ import main as eval_main

        return eval_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m qa", description="Ask the seed articles a question.")
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("ask", help="answer a question with cited sources")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    # Checked by the request model, like every entry point's, not by argparse: one message each.
    ask.add_argument("--top-k", help="passages to retrieve (1-50)")
    ask.add_argument("--source", action="append", help="only search this file (repeatable)")
    ask.add_argument("--mode", help="retrieval mode: hybrid, dense or bm25")
    ask.add_argument("--answerer", help="extractive (default) or llm (needs the llm extra)")
    ask.add_argument("--stream", action="store_true", help="print the answer as it is written")
    commands.add_parser("eval", help="run the evaluation (python -m qa eval --help)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from qa.pipeline import Pipeline

        pipeline = Pipeline(Settings.load())
        request = pipeline.request(  # fails fast, before anything loads
            args.question, top_k=args.top_k, sources=args.source, mode=args.mode, answerer=args.answerer
        )
        answer = _consume(pipeline.stream_request(request), show=args.stream and not args.json)
    except QAError as error:
        print(f"error: {visible(str(error), one_line=True)}", file=sys.stderr)
        return 1
    if args.json:
        print(visible(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2)))
    else:
        print(visible(format_answer(answer)))
    return 0


def _consume(events: Iterator[object], show: bool) -> Answer:
    """The answer at the end of a stream; with ``show``, the text printed as it comes."""
    for event in events:
        if show and isinstance(event, TokenEvent):
            print(visible(event.text), end="", flush=True)
        elif show and isinstance(event, NoticeEvent):
            print(f"\n[{visible(event.message)}]", flush=True)
        elif isinstance(event, AnswerEvent):
            if show:
                print("\n\nVerified:\n", flush=True)
            return event.answer
    raise QAError("The answer stream ended without an answer")


if __name__ == "__main__":
    sys.exit(main())
