"""Command line: ``python -m qa.eval run|judge``. Errors print one line and exit 2; a missed
``--min-*``/``--max-*`` threshold prints which and exits 1.

    python -m qa.eval run --questions tests/data/dev_questions.jsonl --out docs/eval/dev --judge overlap
    python -m qa.eval run --questions tests/data/dev_questions.jsonl --compare default,llm,baseline \\
        --judge llm --out docs/eval/llm
    python -m qa.eval run --questions mine.jsonl --out report --compare default,baseline \\
        --min-answer-accuracy 0.7
    python -m qa.eval run --questions tests/data/squad2/questions.jsonl --seeds tests/data/squad2/seeds \
        --data data/squad2 --compare default,previous,baseline --sample 400 --judge overlap --out docs/eval/squad2
    python -m qa.eval judge --judge overlap --out docs/eval
    python -m qa.eval judge --judge llm --out docs/eval/llm-judge --split dev   # while changing the prompt

``--judge`` picks the support judge that scores citations (and, for ``judge``, the one validated):
``auto`` (the default) is the strongest available, the LLM judge when the ``llm`` extra is installed.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from pathlib import Path

from core.errors import QAError
from core.settings import Settings

PROGRAM = "python -m qa.eval"


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {k: v for k, v in {"seeds_dir": args.seeds, "data_dir": args.data}.items() if v}
    return Settings.load(**overrides)


def _run(args: argparse.Namespace, command: str) -> int:
    from tqdm import tqdm

    from qa.eval import report, runner, summary
    from qa.eval.configs import BUILTIN, load_configurations, select
    from qa.eval.questions import load_questions, sample_per_split

    settings = _settings(args)
    known = dict(BUILTIN)
    if args.configs:
        known.update(load_configurations(Path(args.configs)))
    configurations = select(args.compare, known, settings)
    gate = args.gate or configurations[0].name
    if gate not in {c.name for c in configurations}:
        raise QAError(f"--gate {gate!r} is not among the compared configurations ({args.compare})")
    questions = load_questions(Path(args.questions), args.split)
    if args.sample:
        questions = sample_per_split(questions, args.sample)
    if args.gate_split not in {q.split for q in questions} | {"all"}:
        raise QAError(f"--gate-split {args.gate_split!r}: no question of that split was run")

    bar = tqdm(
        total=len(questions) * len(configurations), unit="question", desc="Evaluating", file=sys.stderr
    )

    def progress(name: str, done: int) -> None:
        bar.set_postfix_str(name)
        bar.update(1)

    try:
        result = runner.run(
            questions,
            configurations,
            settings,
            judge_name=args.judge,
            progress=progress,
            threads=args.threads,
        )
    finally:
        bar.close()
    numbers = summary.summarise(result.rows, [c.name for c in configurations])
    gate_split = args.gate_split
    given = {option: getattr(args, option) for option in summary.THRESHOLDS}
    failures = summary.check_thresholds(numbers, given, gate, gate_split)
    data = report.build_summary(
        result,
        numbers,
        command=command,
        questions_path=Path(args.questions),
        gate={
            "configuration": gate,
            "split": gate_split,
            "thresholds": {k: v for k, v in given.items() if v is not None},
        },
        failures=failures,
    )
    written = report.write_report(Path(args.out), result, data)
    print(report.screen(data))
    print(
        f"\n{len(questions)} questions x {len(configurations)} configurations in {result.seconds:.0f} s; "
        f"wrote {', '.join(str(p) for p in written)}"
    )
    for failure in failures:
        print(f"threshold not met: {failure}", file=sys.stderr)
    return 1 if failures else 0


def _judge(args: argparse.Namespace, command: str) -> int:
    from qa.eval import judge_check
    from qa.eval.judges import make_judge
    from qa.eval.questions import EvalDataError, load_pairs
    from qa.pipeline import Pipeline

    settings = _settings(args)
    pairs = load_pairs(Path(args.pairs))
    if args.split != "all":
        pairs = [p for p in pairs if p.split == args.split]
        if not pairs:
            raise EvalDataError(f"{args.pairs} has no pair with split {args.split!r}")
    judge = make_judge(args.judge, settings, Pipeline(settings).index.embed)
    report = judge_check.validate(judge, pairs)
    written = judge_check.write(Path(args.out), report, command, Path(args.pairs))
    for name, result in [*report["splits"].items(), ("all", report["overall"])]:
        kappa = "—" if result["kappa"] is None else f"{result['kappa']:.3f}"
        print(f"{name:<8} n={result['n']:<4} accuracy={result['accuracy']:.3f}  kappa={kappa}")
    print(f"judge {report['judge']['name']}; wrote {', '.join(str(p) for p in written)}")
    failures = []
    for option, found in (
        ("--min-kappa", report["overall"]),
        ("--min-heldout-kappa", report["splits"].get("heldout")),
    ):
        limit = getattr(args, option[2:].replace("-", "_"))
        measured = None if found is None else found["kappa"]
        if limit is not None and (measured is None or measured < limit):
            failures.append(f"{option} {limit}: kappa = {measured}")
    for failure in failures:
        print(f"threshold not met: {failure}", file=sys.stderr)
    return 1 if failures else 0


def parser() -> argparse.ArgumentParser:
    from qa.eval.configs import BUILTIN, DEFAULT_COMPARE
    from qa.eval.judges import DEFAULT_JUDGE, JUDGES
    from qa.eval.summary import THRESHOLDS

    main_parser = argparse.ArgumentParser(
        prog=PROGRAM, description="Evaluate answers, citations and retrieval."
    )
    commands = main_parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="run a question set through configurations and write a report folder"
    )
    run.add_argument("--questions", required=True, help="question set, JSONL (see qa/eval/questions.py)")
    run.add_argument("--out", required=True, help="report folder to write")
    run.add_argument(
        "--compare",
        default=DEFAULT_COMPARE,
        help=f"configurations, comma-separated: {', '.join(BUILTIN)} (llm: with the llm extra) "
        f"or any in --configs (default: {DEFAULT_COMPARE})",
    )
    run.add_argument("--configs", help="JSON file of more configurations (see qa/eval/configs.py)")
    run.add_argument(
        "--split", default="all", help="only questions of this split: dev, heldout or all (default)"
    )
    run.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="at most N questions of each split, drawn with a fixed seed (for large sets such as SQuAD)",
    )
    run.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads; 1 (default) keeps latencies steady on a busy machine",
    )
    run.add_argument("--gate", help="configuration the thresholds apply to (default: the first compared)")
    run.add_argument(
        "--gate-split", default="all", help="split the thresholds apply to (default: all run questions)"
    )
    for option, (metric, side) in THRESHOLDS.items():
        word = "least" if side == "min" else "most"
        run.add_argument(
            "--" + option.replace("_", "-"),
            type=float,
            metavar="X",
            help=f"exit 1 unless {metric} is at {word} X",
        )

    judge = commands.add_parser("judge", help="validate the support judge on hand-labelled pairs")
    judge.add_argument(
        "--pairs", default="tests/data/support_pairs.jsonl", help="pairs, JSONL (default: %(default)s)"
    )
    judge.add_argument(
        "--out", default="docs/eval", help="folder for judge.md and judge.json (default: %(default)s)"
    )
    judge.add_argument(
        "--split", default="all", help="only pairs of this split: dev, heldout or all (default)"
    )
    judge.add_argument(
        "--min-kappa",
        type=float,
        metavar="X",
        help="exit 1 unless Cohen's kappa over all pairs is at least X",
    )
    judge.add_argument(
        "--min-heldout-kappa",
        type=float,
        metavar="X",
        help="exit 1 unless Cohen's kappa on the heldout pairs is at least X",
    )

    for command in commands.choices.values():
        command.add_argument(
            "--judge",
            default=DEFAULT_JUDGE,
            choices=sorted({*JUDGES, "auto"}),
            help="support judge: auto is the strongest available, llm when the llm extra is installed "
            "(default: %(default)s)",
        )
        command.add_argument("--seeds", help="seeds folder (default: QA_SEEDS_DIR or seeds/)")
        command.add_argument("--data", help="data folder holding the index (default: QA_DATA_DIR or data/)")
    return main_parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    # Only the evaluation's own progress bar: no model-loading bars or advice in between.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    command = f"{PROGRAM} {shlex.join(argv)}"
    try:
        if args.command == "run":
            return _run(args, command)
        return _judge(args, command)
    except QAError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
