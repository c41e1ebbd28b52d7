"""Start to first answer when the seeds folder holds a large seed (issue 10).

    .venv/bin/python scripts/bench_large_seed.py --mb 5        # ~10 minutes on 2 cores

Copies the project's five seeds and writes one large generated seed (``big.txt``: recombined seed
sentences, ``index.synthetic``, plus one sentence found nowhere else) into a temporary folder,
then does what the app does on a first start with no index: :func:`start_index` in the
background and, at once, the question "Who reported 12,000 troops?" through ``Chat.ask`` (the
``/ask`` API). Prints the seconds from start to that answer, to the end of the build, and then
to an answer from the large seed. Nothing is written outside the temporary folder.

The baseline is this script run on the code before partial publishing (it uses only ``app``'s
``IndexStatus``, ``start_index`` and ``Chat.ask``, which both have):

    git archive 02607da | tar -x -C /tmp/before && cp scripts/bench_large_seed.py /tmp/before/scripts/
    cd /tmp/before && .venv/bin/python scripts/bench_large_seed.py --mb 5

Measured (2 shared cores, 5.1 MB seed): first answer 562.0 s before (it waited for the whole
build), 19.4 s after; the whole build 562 s and 620 s (the machine's load average was 3.4-3.8
during the second run; publishing the five seeds first copies a few hundred KB).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ui.chat import Chat
from ui.status import IndexStatus, start_index

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

QUESTION = "Who reported 12,000 troops?"
BIG_FACT = "The Quillmark zeppelin festival drew 4,321 visitors in its first week."
BIG_QUESTION = "How many visitors did the Quillmark zeppelin festival draw?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=float, default=5.0, help="size of the large seed in MB (default 5)")
    args = parser.parse_args(argv)

    from core.settings import Settings
    from index.synthetic import write_large_seed
    from qa.pipeline import Pipeline

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        seeds = root / "seeds"
        shutil.copytree(ROOT / "seeds", seeds)
        big = write_large_seed(seeds, seeds / "big.txt", int(args.mb * 1_000_000), BIG_FACT)
        print(f"seeds: 5 articles + big.txt ({big.stat().st_size / 1e6:.1f} MB) in {seeds}", flush=True)
        settings = Settings(seeds_dir=seeds, data_dir=root / "data", watch_seeds=0, _env_file=None)  # type: ignore[call-arg]
        pipeline = Pipeline(settings)
        pipeline.index.embeddings.embed_query(
            "warm"
        )  # the model loaded before the clock starts: same for both
        status = IndexStatus()
        chat = Chat(pipeline, status)
        start = time.monotonic()
        thread = start_index(pipeline, status)
        answer = chat.ask(QUESTION)
        first = time.monotonic() - start
        print(f"first answer after {first:.1f} s: {answer['text'][:100]!r}", flush=True)
        print(f"status then: {status.describe()}", flush=True)
        thread.join()
        built = time.monotonic() - start
        print(f"build finished after {built:.1f} s: {status.describe()}", flush=True)
        big_answer = chat.ask(BIG_QUESTION)
        print(f"large seed answer: {big_answer['text'][:100]!r}", flush=True)
        pipeline.close()
    print(f"RESULT mb={args.mb} first_answer_s={first:.1f} build_s={built:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
