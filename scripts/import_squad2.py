"""Turn the SQuAD 2.0 articles in ``../shared/data/squad2/`` into a seeds folder and a question set.

    .venv/bin/python scripts/import_squad2.py [--source ../shared/data/squad2/squad2-articles.json]

Writes (about a second) ``tests/data/squad2/seeds/<Title>.txt`` (the title on the first line, then
the article's paragraphs, one a line, exactly as SQuAD has them) and
``tests/data/squad2/questions.jsonl`` in the format of :mod:`qa.eval.questions`:

- ``expected``: the distinct gold answers of an answerable question (any one counts);
- ``quotes``: the sentence(s) of the seed that hold the gold answer, exact text, for retrieval scores;
- ``answerable``: ``not is_impossible``; ``type``: ``squad`` or ``squad_unanswerable``;
- ``split``: by article, never by question: ``HELDOUT`` (chosen once by a seeded draw, see below) are
  ``heldout``, the other seven ``dev`` (what the answerability model learns from and is tuned on).

SQuAD 2.0 (Rajpurkar, Jia and Liang, ACL 2018) is CC BY-SA 4.0; so are the files written here.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.sentences import split_sentences  # noqa: E402

DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "squad2" / "squad2-articles.json"
OUT = ROOT / "tests" / "data" / "squad2"
SEED = 8  # the number: the draw of held-out articles is fixed once, before any result
HELDOUT_ARTICLES = 3


def heldout_titles(titles: list[str]) -> set[str]:
    """The articles held out: a seeded draw over the sorted titles, made before looking at results."""
    return set(random.Random(SEED).sample(sorted(titles), HELDOUT_ARTICLES))


def seed_name(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", title) + ".txt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    articles = json.loads(args.source.read_text(encoding="utf-8"))["data"]
    held = heldout_titles([a["title"] for a in articles])
    seeds = args.out / "seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    rows = []
    for article in articles:
        title = article["title"].replace("_", " ")
        text = title
        offsets = []  # where each paragraph starts in the seed
        for paragraph in article["paragraphs"]:
            text += "\n"
            offsets.append(len(text))
            text += paragraph["context"]
        text += "\n"
        name = seed_name(article["title"])
        (seeds / name).write_text(text, encoding="utf-8")
        sentences = split_sentences(text)
        split = "heldout" if article["title"] in held else "dev"
        for paragraph, offset in zip(article["paragraphs"], offsets, strict=True):
            for qa in paragraph["qas"]:
                row = {"id": qa["id"], "question": qa["question"].strip()}
                if qa.get("is_impossible"):
                    row.update(expected=[], answerable=False, type="squad_unanswerable")
                else:
                    answers = qa["answers"]
                    row["expected"] = list(dict.fromkeys(a["text"].strip() for a in answers))
                    quotes = []
                    for answer in answers:
                        start = offset + answer["answer_start"]
                        end = start + len(answer["text"])
                        assert text[start:end] == answer["text"], (name, answer)
                        quote = " ".join(text[a:b] for a, b in sentences if a < end and start < b)
                        quotes.append(quote)
                    row.update(quotes=list(dict.fromkeys(quotes)), answerable=True, type="squad")
                row.update(sources=[name], split=split)
                rows.append(row)
    with (args.out / "questions.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(articles)} seeds in {seeds}, {len(rows)} questions; held out: {', '.join(sorted(held))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
