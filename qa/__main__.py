"""Command line: ``python -m qa ask "Who reported 12,000 troops?" [--json] [--top-k N] [--source FILE]``.

Prints the answer and a numbered source list (title, file, URL, the quoted sentence); ``--json``
prints ``Answer.to_dict()``. Errors print one line and exit 1. ``python -m qa eval …`` runs the
evaluation (see ``python -m qa.eval --help``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap

from qa.errors import QAError
from qa.schema import Answer
from qa.settings import Settings


def format_answer(answer: Answer, width: int = 100) -> str:
    """The answer as plain text with its numbered sources beneath."""
    lines = [textwrap.fill(answer.text, width)]
    if answer.refused:
        lines.append("\nClosest passages:")
        for passage in answer.passages[:3]:
            lines.append(f"  - {passage.source}: {textwrap.shorten(passage.text, width - 6)}")
        return "\n".join(lines)
    lines.append(f"\nSources (grounding {answer.grounding:.2f}):")
    for citation in answer.citations:
        lines.append(f"[{citation.n}] {citation.title or citation.source}")
        lines.append(
            f"    file: {citation.source} (chars {citation.start}-{citation.end}), support {citation.score:.2f}"
        )
        if citation.url:
            lines.append(f"    url:  {citation.url}")
        lines.append(textwrap.indent(textwrap.fill(f"“{citation.quote}”", width - 4), "    "))
    return "\n".join(lines)


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
    ask.add_argument("--top-k", type=int, help="passages to retrieve")
    ask.add_argument("--source", action="append", help="only search this file (repeatable)")
    ask.add_argument("--mode", choices=["hybrid", "dense", "bm25"], help="retrieval mode")
    commands.add_parser("eval", help="run the evaluation (python -m qa eval --help)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from qa.pipeline import Pipeline

        pipeline = Pipeline(Settings())
        question = pipeline.check_question(args.question)  # fail fast, before loading anything
        answer = pipeline.ask(question, top_k=args.top_k, sources=args.source, mode=args.mode)
    except QAError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2) if args.json else format_answer(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
