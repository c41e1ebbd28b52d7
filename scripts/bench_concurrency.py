"""Sessions at once: 16 conversations x 10 questions (follow-ups included), asked together, against
the same conversations asked one at a time in the same run.

    .venv/bin/python scripts/bench_concurrency.py                    # both paths, ~2 minutes
    .venv/bin/python scripts/bench_concurrency.py --via chat --sessions 16 --questions 10

``pipeline``: one shared ``Pipeline``, a thread per session. ``chat``: the real app (``create_app``)
served by uvicorn on loopback, a ``gradio_client.Client`` per session calling ``/chat`` (the
page's own streaming handler; the time is until the last update). Per question: p50/p95 seconds
alone and together, and the ratio; the wall time and throughput; errors; and cross-talk, the
answers that differ from the ones the same conversations got alone. On 2 cores sixteen sessions
share two CPUs: a question waits for the others' CPU time, not for a lock. Results are appended
to ``docs/bench/results.jsonl`` with the machine, its load and the command.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from scripts.bench_scale import ms, record  # noqa: E402


def serve_app(pipeline: object) -> tuple[str, object]:
    """The app on a free loopback port; ``(url, server)``."""
    import socket

    import uvicorn

    import app

    asgi = app.create_app(pipeline)  # type: ignore[arg-type]
    if not asgi.state.index_status.wait(600):
        raise SystemExit(asgi.state.index_status.message)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(asgi, log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        threading.Event().wait(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}/", server


def measure(via: str, sessions: int, questions: int) -> dict[str, object]:
    from core.settings import Settings
    from qa.eval.sessions import chat_asker, compare, make_conversations, pipeline_asker, run
    from qa.pipeline import Pipeline

    pipeline = Pipeline(Settings.load())
    pipeline.load()
    conversations = make_conversations(sessions, questions)
    server = None
    if via == "chat":
        url, server = serve_app(pipeline)
        make = lambda: chat_asker(url)  # noqa: E731 - a fresh set of sessions per run
    else:
        make = lambda: pipeline_asker(pipeline)  # noqa: E731
    run(make(), conversations[:2], threads=1)  # warm: models, index, the app's first page
    alone = run(make(), conversations, threads=1)
    together = run(make(), conversations, threads=sessions)
    if server is not None:
        server.should_exit = True  # type: ignore[attr-defined]
    differ = compare(alone, together)
    result = {
        "bench": "concurrency",
        "via": via,
        "sessions": sessions,
        "questions_per_session": questions,
        "alone_p50_ms": ms(alone.seconds, 50),
        "alone_p95_ms": ms(alone.seconds, 95),
        "together_p50_ms": ms(together.seconds, 50),
        "together_p95_ms": ms(together.seconds, 95),
        "p50_ratio": round(ms(together.seconds, 50) / ms(alone.seconds, 50), 2),
        "alone_wall_s": round(alone.wall, 2),
        "together_wall_s": round(together.wall, 2),
        "together_questions_per_s": round(len(together.seconds) / together.wall, 1),
        "errors": len(alone.errors) + len(together.errors),
        "cross_talk": len(differ),
    }
    for error in (alone.errors + together.errors)[:5]:
        print(f"error: {error}", file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--via", choices=["pipeline", "chat", "both"], default="both")
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--questions", type=int, default=10)
    args = parser.parse_args()
    for via in ["pipeline", "chat"] if args.via == "both" else [args.via]:
        record(measure(via, args.sessions, args.questions))


if __name__ == "__main__":
    main()
