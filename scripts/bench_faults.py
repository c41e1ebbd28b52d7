"""Questions answered and failed while a fault is injected, under 8 clients at once (issue 17).

    sudo .venv/bin/python scripts/bench_faults.py                 # ~3 minutes; needs mount (root)
    .venv/bin/python scripts/bench_faults.py --clients 8 --seconds 20 --write docs/bench/faults.md

The real app (``app.create_app`` over a ``Pipeline``: real Chroma, the packaged int8 model) on
loopback, over a copy of the seeds in a folder of its own; ``--clients`` threads each ask the
development-split questions in turn over HTTP (Gradio's ``/gradio_api/call/ask``, as any client
calls it) for ``--seconds`` a phase. An answer counts as answered when it comes back with text and
no error; anything else (an error event, an error in the answer, a dropped connection) as failed.
Phases, each a fresh count:

- ``baseline``: nothing wrong, the same app and clients (the ratio below is against it);
- ``truncated catalog``: the served generation's ``catalog.sqlite3`` cut to 0 bytes two seconds
  into the phase (``truncate -s 0``), the app left running;
- ``read-only data``: a data folder with a built index bind-mounted read-only, the app started on it;
- ``full disk at start``: the data folder on a tmpfs filled to the last byte and a new seed added
  before the app starts (the build cannot write it);
- ``full disk while serving``: the same, done two seconds into the phase while the app serves;
- ``freed again``: after each, the filler removed; the seconds until the new seed's question is
  answered (the watcher must try again by itself).

Results are appended to ``docs/bench/results.jsonl`` (machine, load, command) and, with ``--write``,
written as a table to the given Markdown file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from scripts.bench_concurrency import serve_app  # noqa: E402
from scripts.bench_scale import ms, record  # noqa: E402

# Seeds added while the disk is full, each with a question only it answers.
NEW_SEEDS = [
    "Gamma Report\nGamma engineers repaired two bridges in the valley. The work took a month.\n",
    "Delta Report\nDelta medics opened nine field clinics near the river. Each clinic had a generator.\n",
]
NEW_QUESTIONS = [
    ("How many bridges did the gamma engineers repair?", "two bridges"),
    ("How many field clinics did the delta medics open?", "nine field clinics"),
]


def ask(url: str, question: str) -> dict[str, Any]:
    """One question through ``/gradio_api/call/ask``: the answer's JSON, or ``{"error": ...}``."""
    body = json.dumps({"data": [question]}).encode("utf-8")
    request = urllib.request.Request(f"{url}gradio_api/call/ask", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        event = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/ask/{event}", timeout=300) as response:
        lines = response.read().decode("utf-8").splitlines()
    kinds = [line[7:] for line in lines if line.startswith("event: ")]
    data = [line[6:] for line in lines if line.startswith("data: ")]
    if not kinds or kinds[-1] != "complete":
        return {"error": data[-1] if data else "no answer"}
    return json.loads(data[-1])[0]  # type: ignore[no-any-return]


def answered(answer: dict[str, Any]) -> bool:
    return bool(answer.get("text")) and not answer.get("error")


class Clients:
    """``count`` threads asking ``questions`` in turn against ``url`` until :meth:`stop`."""

    def __init__(self, url: str, questions: list[str], count: int) -> None:
        self.url, self.questions = url, questions
        self.results: list[tuple[float, bool, str]] = []  # (seconds, answered, why not)
        self.generations: set[str] = set()  # the index generations answers came from
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(count)]

    def _run(self, number: int) -> None:
        turn = number * 7
        while not self._stop.is_set():
            question = self.questions[turn % len(self.questions)]
            turn += 1
            started = time.perf_counter()
            try:
                answer = ask(self.url, question)
                ok, why = answered(answer), str(answer.get("error", ""))[:160]
                generation = answer.get("index_generation")
            except Exception as error:  # noqa: BLE001 - a failed question is what is counted
                ok, why, generation = False, f"{type(error).__name__}: {error}"[:160], None
            with self._lock:
                if generation:
                    self.generations.add(generation)
                self.results.append((time.perf_counter() - started, ok, why))

    def phase(self, seconds: float, during: Any = None) -> dict[str, Any]:
        """Count what is answered in the next ``seconds``; ``during()`` runs two seconds in."""
        with self._lock:
            self.results, self.generations = [], set()
        started = time.monotonic()
        if during is not None:
            time.sleep(2)
            during()
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        with self._lock:
            results, self.results = self.results, []
            generations = sorted(self.generations)
        times = [t for t, ok, _ in results if ok]
        failures = sorted({why for _, ok, why in results if not ok})
        return {
            "answered": len(times),
            "failed": len(results) - len(times),
            "per_second": round(len(times) / seconds, 2),
            "p50_ms": ms(times, 50) if times else None,
            "p95_ms": ms(times, 95) if times else None,
            "failures": failures[:5],
            "generations": generations,
        }

    def __enter__(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(120)


@contextlib.contextmanager
def app_on(data: Path, seeds: Path, **overrides: Any) -> Iterator[tuple[str, Any]]:
    """The app over ``seeds``, its index and chat database in ``data``: ``(url, pipeline)``."""
    from core.settings import Settings
    from qa.pipeline import Pipeline

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        seeds_dir=seeds,
        data_dir=data,
        models_dir=data.parent / "models",
        **overrides,
    )
    pipeline = Pipeline(settings)
    url, server = serve_app(pipeline)
    try:
        yield url, pipeline
    finally:
        server.should_exit = True  # type: ignore[attr-defined]
        pipeline.close()


def run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as handle:
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    return filler


FAULTS = ("catalog", "read-only", "disk")


def new_seed_answered(url: str, number: int) -> bool:
    question, answer = NEW_QUESTIONS[number]
    return answer in ask(url, question).get("text", "")


def freed(clients: Clients, seconds: float, url: str, number: int) -> dict[str, Any]:
    """A phase right after space returns; and the seconds until the new seed's question answers."""
    start = time.monotonic()
    indexed: list[float] = []

    def watch() -> None:
        while not indexed and time.monotonic() - start < 120:
            if new_seed_answered(url, number):
                indexed.append(time.monotonic() - start)
            time.sleep(0.5)

    watcher = threading.Thread(target=watch)
    watcher.start()
    phase = clients.phase(seconds)
    watcher.join()
    phase["new seed answered after s"] = round(indexed[0], 1) if indexed else "not in 120 s"
    return phase


def catalog_phases(c: Clients, seconds: float, pipeline: Any, index_dir: Path) -> dict[str, dict[str, Any]]:
    """The served catalog cut to 0 bytes under the running app."""
    catalog = pipeline.index.served().generation.catalog_path
    phase = c.phase(seconds, lambda: os.truncate(catalog, 0))
    phase["answered from"] = " and ".join(phase["generations"])
    phase["set aside"] = len([p for p in index_dir.iterdir() if p.name.startswith("damaged-")])
    return {"truncated catalog": phase}


def read_only_phases(
    clients: int, seconds: float, questions: list[str], data: Path, seeds: Path
) -> dict[str, Any]:
    """``data`` bind-mounted read-only over itself, and the app started on it."""
    run(["mount", "--bind", str(data), str(data)])
    try:
        run(["mount", "-o", "remount,bind,ro", str(data)])
        with app_on(data, seeds) as (url, _), Clients(url, questions, clients) as c:
            return {"read-only data": c.phase(seconds)}
    finally:
        run(["umount", "-l", str(data)])


def disk_phases(
    clients: int, seconds: float, questions: list[str], data: Path, seeds: Path
) -> dict[str, Any]:
    """A copy of ``data`` on a tmpfs 4 MB larger: filled before the app starts, then while it
    serves, a new seed added each time; each time freed again."""
    phases: dict[str, dict[str, Any]] = {}
    disk = data.parent / "disk"
    disk.mkdir()
    used = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    run(["mount", "-t", "tmpfs", "-o", f"size={used + 4 * 2**20}", "tmpfs", str(disk)])
    try:
        shutil.copytree(data, disk / "data")
        filler = fill(disk)
        (seeds / "gamma.txt").write_text(NEW_SEEDS[0], encoding="utf-8")
        with (
            app_on(disk / "data", seeds, watch_seeds=0.5) as (url, _),
            Clients(url, questions, clients) as c,
        ):
            phases["full disk at start"] = c.phase(seconds)
            phases["full disk at start"]["new seed answered"] = new_seed_answered(url, 0)
            filler.unlink()
            phases["freed again (at start)"] = freed(c, seconds, url, 0)
        with (
            app_on(disk / "data", seeds, watch_seeds=0.5) as (url, _),
            Clients(url, questions, clients) as c,
        ):
            fillers: list[Path] = []

            def full() -> None:
                fillers.append(fill(disk))
                (seeds / "delta.txt").write_text(NEW_SEEDS[1], encoding="utf-8")

            phases["full disk while serving"] = c.phase(seconds, full)
            phases["full disk while serving"]["new seed answered"] = new_seed_answered(url, 1)
            fillers[0].unlink()
            phases["freed again (while serving)"] = freed(c, seconds, url, 1)
    finally:
        run(["umount", "-l", str(disk)])
    return phases


def measure(clients: int, seconds: float, faults: list[str]) -> dict[str, Any]:
    from qa.eval.questions import load_questions

    questions = [
        q.question for q in load_questions(ROOT / "tests/data/dev_questions.jsonl") if q.split == "dev"
    ]
    phases: dict[str, dict[str, Any]] = {}
    work = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    try:
        seeds, data = work / "seeds", work / "data"
        shutil.copytree(ROOT / "seeds", seeds)
        with app_on(data, seeds, watch_seeds=0) as (url, pipeline), Clients(url, questions, clients) as c:
            phases["baseline"] = c.phase(seconds)
            if "catalog" in faults:
                phases |= catalog_phases(c, seconds, pipeline, data / "index")
        if "read-only" in faults:
            phases |= read_only_phases(clients, seconds, questions, data, seeds)
        if "disk" in faults:
            phases |= disk_phases(clients, seconds, questions, data, seeds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = phases["baseline"]["per_second"] or 1
    for values in phases.values():
        values["ratio"] = round(values["per_second"] / base, 2)
    return {"bench": "faults", "clients": clients, "seconds": seconds, "faults": faults, "phases": phases}


def table(entry: dict[str, Any]) -> str:
    rows = [
        "| fault | answered | failed | answered/s | ratio to baseline | p50 / p95 | noted |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, v in entry["phases"].items():
        extra = {
            k: v[k]
            for k in v
            if k in ("answered from", "set aside", "new seed answered", "new seed answered after s")
        }
        noted = ", ".join(f"{k}: {x}" for k, x in extra.items())
        if v["failures"]:
            noted += (", " if noted else "") + "failures: " + "; ".join(v["failures"])
        p = f"{v['p50_ms']:.0f} / {v['p95_ms']:.0f} ms" if v["p50_ms"] is not None else "-"
        rows.append(
            f"| {name} | {v['answered']} | {v['failed']} | {v['per_second']} | {v['ratio']} | {p} | {noted} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument(
        "--faults", nargs="+", choices=FAULTS, default=list(FAULTS), help="which faults (default: all)"
    )
    parser.add_argument("--write", type=Path, help="write the table into this Markdown file")
    args = parser.parse_args()
    entry = measure(args.clients, args.seconds, args.faults)
    record(entry)
    print(table(entry))
    if args.write is not None:
        text = args.write.read_text(encoding="utf-8") if args.write.exists() else ""
        begin, end = "<!-- bench_faults: begin -->", "<!-- bench_faults: end -->"
        block = f"{begin}\n{table(entry)}\n\n({entry['clients']} clients, {entry['seconds']:.0f} s a phase, "
        block += f"{time.strftime('%Y-%m-%d')}; load {os.getloadavg()[0]:.1f})\n{end}"
        if begin in text:
            text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
        else:
            text += ("\n" if text else "") + block + "\n"
        args.write.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
