"""Speed and scale of the index: the seeds warm, and synthetic corpora of 1k-100k chunks.

    .venv/bin/python scripts/bench_scale.py seeds               # ~1 minute
    .venv/bin/python scripts/bench_scale.py corpus --chunks 10000
    .venv/bin/python scripts/bench_scale.py corpus --chunks 100000 --stand-in
    .venv/bin/python scripts/bench_scale.py report              # docs/bench/README.md + scale.png

``seeds``: every question of the development split and of the follow-up set's news questions
(their histories included), warm, three times, in the same process as a plain LangChain chain
(Chroma retriever, k=4, top chunk as the answer) over the same collection and embedder. Times the
whole default ``ask``, the answerability model's share of it (``assess``), and the first question
of a new process against the later ones.

``corpus``: a deterministic corpus of recombined seed sentences (``index.synthetic``), built from
scratch (ingest throughput, size on disk), then a new process is started that opens it and
answers: process start to first answer, query p50/p95 over the development questions, peak RSS.
``--stand-in`` builds with a stand-in embedder (seeded random vectors of the model's dimension)
instead of the model, to measure the index structures at a size the model would take hours to
embed on 2 cores; queries are still embedded by the real model. Results are appended to
``docs/bench/results.jsonl`` with the machine and the command.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
OUT = ROOT / "docs" / "bench"
WORK = ROOT / "data" / "bench"


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_1min": round(os.getloadavg()[0], 2),
    }


def ms(values: list[float], q: float) -> float:
    from qa.eval.metrics import percentile

    return round(percentile(values, q) * 1000, 2)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; getrusage's ru_maxrss would count the parent's
    memory too, since Linux keeps it across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def record(entry: dict[str, object]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    entry = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "command": " ".join(sys.argv),
        **entry,
    }
    with (OUT / "results.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
    print(json.dumps(entry, indent=2))


def questions(with_followups: bool) -> list[tuple[str, list[tuple[str, str]]]]:
    from qa.eval.questions import load_questions

    asked = [
        (q.question, list(q.history or []))
        for q in load_questions(ROOT / "tests/data/dev_questions.jsonl")
        if q.split == "dev"
    ]
    if with_followups:
        for line in (ROOT / "tests/data/followups.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if not row["origin"].startswith("squad2"):
                asked.append((row["question"], [tuple(t) for t in row["history"]]))
    return asked  # type: ignore[return-value]


# --- the seeds, warm


def bench_seeds(repeat: int) -> None:
    from langchain_core.runnables import RunnableLambda

    from qa.confidence import assess
    from qa.followup import resolve
    from qa.pipeline import Pipeline

    started = time.perf_counter()
    pipeline = Pipeline()
    asked = questions(with_followups=True)
    pipeline.load()  # what the app does before it takes questions
    first_started = time.perf_counter()
    pipeline.ask(*asked[0])
    first = time.perf_counter() - first_started
    start_to_first = time.perf_counter() - started

    def forget(question: str, history: list) -> None:  # type: ignore[type-arg]
        """Every timed question is new to the process: its embedding is computed, not cached."""
        for text in (question, resolve(question, history).query):
            pipeline.index.embedder.cache._items.pop(text, None)

    served = pipeline.index.served()
    chain = served.store.as_retriever(search_kwargs={"k": 4}) | RunnableLambda(
        lambda docs: docs[0].page_content
    )
    answerer = pipeline.answerer("extractive")
    for question, history in asked:  # warm: everything opened once
        pipeline.ask(question, history)
        chain.invoke(question)
    whole, plain, assessed, later = [], [], [], []
    for _ in range(repeat):
        for question, history in asked:
            forget(question, history)
            t = time.perf_counter()
            pipeline.ask(question, history)
            whole.append(time.perf_counter() - t)
            forget(question, history)
            t = time.perf_counter()
            chain.invoke(question)
            plain.append(time.perf_counter() - t)
            resolved = resolve(question, history)
            passages = pipeline.retrieve(resolved.query)
            candidates = answerer.candidates(resolved, passages, served)  # type: ignore[attr-defined]
            t = time.perf_counter()
            assess(resolved, candidates, passages, served)
            assessed.append(time.perf_counter() - t)
    answered = [w - a for w, a in zip(whole, assessed, strict=True)]
    for question, history in asked[1:11]:  # later questions new to this process, for comparison
        forget(question, history)
        t = time.perf_counter()
        pipeline.ask(question, history)
        later.append(time.perf_counter() - t)
    record(
        {
            "bench": "seeds",
            "questions": len(asked),
            "timed": len(whole),
            "chunks": served.catalog.chunk_count(),
            "ask_ms": {"p50": ms(whole, 50), "p95": ms(whole, 95)},
            "retrieve_answer_verify_ms": {"p50": ms(answered, 50), "p95": ms(answered, 95)},
            "assess_ms": {"p50": ms(assessed, 50), "p95": ms(assessed, 95)},
            "plain_chain_ms": {"p50": ms(plain, 50), "p95": ms(plain, 95)},
            "ratio_of_medians": {
                "ask_vs_plain": round(statistics.median(whole) / statistics.median(plain), 2),
                "retrieve_answer_verify_vs_plain": round(
                    statistics.median(answered) / statistics.median(plain), 2
                ),
            },
            "first_question_ms": round(first * 1000, 1),
            "new_question_ms_p50": ms(later, 50),
            "process_start_to_first_answer_s": round(start_to_first, 2),
        }
    )


# --- synthetic corpora


class StandIn:
    """Seeded random unit vectors of the model's dimension: the index's cost without the model's."""

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension

    def _vector(self, text: str) -> list[float]:
        import hashlib

        import numpy as np

        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        vector = np.random.default_rng(seed).standard_normal(self.dimension).astype("float32")
        return (vector / np.linalg.norm(vector)).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_corpus(chunks: int, stand_in: bool, keep: bool) -> None:
    from core.settings import Settings
    from index.build import build_index
    from index.synthetic import write_corpus

    name = f"{chunks // 1000}k" + ("-stand-in" if stand_in else "")
    seeds = WORK / f"seeds-{chunks // 1000}k"
    if not seeds.is_dir():
        write_corpus(ROOT / "seeds", seeds, chunks)
    index_dir = WORK / f"index-{name}"
    shutil.rmtree(index_dir, ignore_errors=True)
    settings = Settings(seeds_dir=seeds, index_dir=index_dir, _env_file=None)  # type: ignore[call-arg]
    embeddings = StandIn() if stand_in else None
    started = time.perf_counter()
    report = build_index(settings, embeddings=embeddings)
    took = time.perf_counter() - started
    served = probe_in_new_process(seeds, index_dir)
    record(
        {
            "bench": "corpus",
            "corpus": name,
            "embedder": "stand-in (seeded random vectors)" if stand_in else settings.embedding_runtime,
            "documents": len(report.added),
            "chunks": report.total_chunks,
            "texts_embedded": report.chunks_embedded + report.sentences_embedded,
            "build_s": round(took, 1),
            "chunks_per_s": round(report.total_chunks / took, 1),
            "texts_per_s": round((report.chunks_embedded + report.sentences_embedded) / took, 1),
            "size_mb": {
                "seeds": round(folder_size(seeds) / 1e6, 1),
                "index": round(folder_size(index_dir) / 1e6, 1),
                "catalog": round((index_dir / report.generation / "catalog.sqlite3").stat().st_size / 1e6, 1),
            },
            **served,
        }
    )
    if not keep:
        shutil.rmtree(index_dir, ignore_errors=True)


def bench_serving(chunks: int, stand_in: bool) -> None:
    """The serving half of ``corpus`` again, on an index kept by ``corpus --keep``."""
    name = f"{chunks // 1000}k" + ("-stand-in" if stand_in else "")
    seeds, index_dir = WORK / f"seeds-{chunks // 1000}k", WORK / f"index-{name}"
    record({"bench": "serving", "corpus": name, **probe_in_new_process(seeds, index_dir)})


def probe_in_new_process(seeds: Path, index_dir: Path) -> dict[str, object]:
    """:func:`probe` in a process of its own (its start-up and memory are what is measured)."""
    run = subprocess.run(
        [sys.executable, __file__, "probe", "--seeds", str(seeds), "--index", str(index_dir)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(run.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def probe(seeds: Path, index_dir: Path) -> None:
    """In a new process: start to first answer, then query latency and peak memory."""
    started = time.perf_counter()
    from core.settings import Settings
    from qa.pipeline import Pipeline

    settings = Settings(seeds_dir=seeds, index_dir=index_dir, auto_build=False, _env_file=None)  # type: ignore[call-arg]
    pipeline = Pipeline(settings)
    asked = questions(with_followups=False)
    pipeline.load()
    pipeline.ask(*asked[0])
    first = time.perf_counter() - started
    rss_open = peak_rss_mb()
    times = []
    for _ in range(3):
        for question, history in asked:
            pipeline.index.embedder.cache._items.pop(question, None)  # every timed question is new to the process
            t = time.perf_counter()
            pipeline.ask(question, history)
            times.append(time.perf_counter() - t)
    t = time.perf_counter()
    pipeline.ask(
        "Who wrote the article about the summit?"
    )  # a metadata question: every document's description
    metadata = time.perf_counter() - t
    print(
        json.dumps(
            {
                "start_to_first_answer_s": round(first, 2),
                "query_ms": {"p50": ms(times, 50), "p95": ms(times, 95), "n": len(times)},
                "metadata_question_ms": round(metadata * 1000, 1),
                "peak_rss_mb": {
                    "after_first_answer": round(rss_open),
                    "after_queries": round(peak_rss_mb()),
                },
            }
        )
    )


# --- the report


def report() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in (OUT / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    latest: dict[str, dict] = {}  # type: ignore[type-arg]
    for row in rows:  # a later serving run of a kept index replaces its serving figures
        key = row.get("corpus", row["bench"])
        latest[key] = {**latest.get(key, {}), **row, "bench": latest.get(key, row)["bench"]}
    corpora = sorted((r for r in latest.values() if r["bench"] == "corpus"), key=lambda r: r["chunks"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for kind, marker in (("model", "o"), ("stand-in", "s")):
        chosen = [r for r in corpora if ("stand-in" in r["embedder"]) == (kind == "stand-in")]
        if not chosen:
            continue
        x = [r["chunks"] for r in chosen]
        left.plot(x, [r["query_ms"]["p50"] for r in chosen], marker=marker, label=f"p50 ({kind} vectors)")
        left.plot(
            x,
            [r["query_ms"]["p95"] for r in chosen],
            marker=marker,
            linestyle="--",
            label=f"p95 ({kind} vectors)",
        )
        right.plot(
            x, [r["peak_rss_mb"]["after_queries"] for r in chosen], marker=marker, label=f"peak RSS ({kind})"
        )
        right.plot(
            x,
            [r["start_to_first_answer_s"] * 100 for r in chosen],
            marker=marker,
            linestyle=":",
            label=f"start to first answer ×100 s ({kind})",
        )
    for axis, title in ((left, "Question latency (ms)"), (right, "Memory (MB) and start-up")):
        axis.set_xscale("log")
        axis.set_xlabel("chunks in the index")
        axis.set_title(title)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / "scale.png", dpi=110)
    print(f"wrote {OUT / 'scale.png'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    seeds = commands.add_parser("seeds")
    seeds.add_argument("--repeat", type=int, default=3)
    corpus = commands.add_parser("corpus")
    corpus.add_argument("--chunks", type=int, required=True)
    corpus.add_argument("--stand-in", action="store_true")
    corpus.add_argument("--keep", action="store_true", help="keep the built index in data/bench")
    probing = commands.add_parser("probe")
    probing.add_argument("--seeds", type=Path, required=True)
    probing.add_argument("--index", type=Path, required=True)
    serving = commands.add_parser(
        "serving", help="the serving figures again, on an index kept by corpus --keep"
    )
    serving.add_argument("--chunks", type=int, required=True)
    serving.add_argument("--stand-in", action="store_true")
    commands.add_parser("report")
    args = parser.parse_args()
    if args.command == "seeds":
        bench_seeds(args.repeat)
    elif args.command == "corpus":
        bench_corpus(args.chunks, args.stand_in, args.keep)
    elif args.command == "serving":
        bench_serving(args.chunks, args.stand_in)
    elif args.command == "probe":
        probe(args.seeds, args.index)
    else:
        report()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
