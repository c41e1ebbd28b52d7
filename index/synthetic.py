"""Synthetic corpora for benchmarks and scale tests: seed sentences recombined into new documents.

Deterministic (a seeded draw): the same arguments always write the same files. Each document has
a title line, a "Posted on" date line and paragraphs of 2-5 sentences drawn from the seeds' kept
text, so chunking, cleaning, metadata and the lexical index see realistic text.

    python -m index.synthetic --chunks 10000 --out data/bench/seeds-10k
"""

from __future__ import annotations

import argparse
import random
from datetime import date, timedelta
from pathlib import Path

from index.load import load_seeds
from index.sentences import split_sentences

CHARS_PER_CHUNK = 450  # 600-character chunks overlapping by 150 advance about this far


def seed_sentences(seeds_dir: Path) -> list[str]:
    """The sentences of the seeds' kept text with five words or more, in order, without repeats."""
    found: dict[str, None] = {}
    for document in load_seeds(seeds_dir).documents:
        for start, end in document.regions:
            for a, b in split_sentences(document.text, start, end):
                sentence = document.text[a:b]
                if len(sentence.split()) >= 5:
                    found[sentence] = None
    return list(found)


def write_corpus(
    seeds_dir: Path, out: Path, chunks: int, chunks_per_document: int = 10, seed: int = 9
) -> list[Path]:
    """Write documents of about ``chunks_per_document`` chunks each until about ``chunks`` in all."""
    sentences = seed_sentences(seeds_dir)
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    documents = max(1, round(chunks / chunks_per_document))
    written = []
    for number in range(documents):
        title = " ".join(rng.choice(sentences).split()[:8]).rstrip(".,;:")
        day = date(2024, 1, 1) + timedelta(days=rng.randrange(700))
        lines = [f"Report {number}: {title}", f"Posted on {day:%B} {day.day}, {day.year}", ""]
        size = 0
        while size < chunks_per_document * CHARS_PER_CHUNK:
            paragraph = " ".join(rng.choice(sentences) for _ in range(rng.randint(2, 5)))
            lines.append(paragraph)
            size += len(paragraph) + 1
        path = out / f"doc{number:06d}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(path)
    return written


def write_large_seed(seeds_dir: Path, path: Path, chars: int, fact: str, seed: int = 9) -> Path:
    """One document of about ``chars`` characters at ``path`` (recombined sentences of the seeds in
    ``seeds_dir``) with the sentence ``fact``, found in no seed, on a line of its own in the middle."""
    import tempfile

    chunks = max(1, chars // CHARS_PER_CHUNK)
    with tempfile.TemporaryDirectory() as scratch:
        [written] = write_corpus(
            seeds_dir, Path(scratch), chunks=chunks, chunks_per_document=chunks, seed=seed
        )
        text = written.read_text(encoding="utf-8")
    middle = text.index("\n", len(text) // 2)
    path.write_text(f"{text[:middle]}\n{fact}\n{text[middle + 1 :]}", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index.synthetic", description=__doc__)
    parser.add_argument("--chunks", type=int, required=True, help="about how many chunks in all")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the documents to")
    parser.add_argument("--seeds", type=Path, default=Path("seeds"), help="where the sentences come from")
    parser.add_argument("--per-document", type=int, default=10, help="about how many chunks a document has")
    parser.add_argument("--seed", type=int, default=9, help="the draw's seed")
    args = parser.parse_args(argv)
    written = write_corpus(args.seeds, args.out, args.chunks, args.per_document, args.seed)
    print(f"{len(written)} documents in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
