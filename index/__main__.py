"""Command line for the index: ``python -m index build|status``. Errors print one line, exit 1."""

from __future__ import annotations

import argparse
import logging
import sys

from core.display import visible
from core.errors import QAError
from core.settings import Settings


def _build(settings: Settings, rebuild: bool, wait: bool) -> int:
    from tqdm import tqdm

    from index.build import LARGE_READ, BuildReport, build_index
    from index.load import size_words

    bar: tqdm | None = None

    def progress(done: int, total: int, source: str) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="text", desc="Embedding chunks and sentences")
        bar.set_postfix_str(visible(source, one_line=True))
        bar.update(done - bar.n)

    def reading(source: str, size: int) -> None:
        if size >= LARGE_READ:  # seconds of reading and cleaning before anything of it is embedded
            print(f"reading {visible(source, one_line=True)} ({size_words(size)})…", flush=True)

    def waiting(message: str) -> None:
        print(visible(message, one_line=True), file=sys.stderr, flush=True)

    def published(report: BuildReport) -> None:
        if report.pending:  # a partial generation: questions are answered from it meanwhile
            message = (
                f"published {report.generation} ({report.documents} documents) to answer from "
                f"meanwhile; still to embed: {', '.join(visible(p, one_line=True) for p in report.pending)}"
            )
            (bar.write if bar is not None else print)(message)

    report = build_index(
        settings,
        rebuild=rebuild,
        progress=progress,
        wait=wait,
        on_wait=waiting,
        published=published,
        reading=reading,
    )
    if bar is not None:
        bar.close()
    if report.healed:
        print(f"warning: {visible(report.healed, one_line=True)}", file=sys.stderr)
    for error in report.errors:  # each names its seed: "new\nline.txt: not valid UTF-8 ..."
        print(f"error: {visible(str(error), one_line=True)}", file=sys.stderr)
    for skipped in report.skipped:
        print(f"skipped: {visible(skipped, one_line=True)} (not .txt or .md)", file=sys.stderr)
    for link in report.outside:
        print(
            f"skipped: {visible(link, one_line=True)} (a link to a file outside the seeds folder)",
            file=sys.stderr,
        )
    for duplicate, original in sorted(report.duplicates.items()):
        duplicate, original = visible(duplicate, one_line=True), visible(original, one_line=True)
        print(f"skipped: {duplicate} (same content as {original}, indexed once)", file=sys.stderr)
    print(report.summary())
    where = f"{settings.chroma_host}:{settings.chroma_port}, catalog in " if settings.chroma_host else ""
    print(f"index: {where}{settings.resolved_index_dir}, generation {report.generation}")
    return 1 if report.errors else 0


def _status(settings: Settings) -> int:
    from index.build import check_generation, describe_progress, pending_seeds, stopped_build
    from index.catalog import Catalog
    from index.generations import Layout
    from index.load import left_out
    from index.manifest import read_manifest

    layout = Layout(settings)
    if (progress := layout.read_progress()) is not None:
        print(
            f"build running (process {progress.get('pid')}): {visible(describe_progress(progress), one_line=True)}"
        )
    elif stopped := stopped_build(layout):
        print(visible(stopped, one_line=True))
    generation = layout.current()
    if reason := check_generation(settings, generation):
        print(f"error: the index is damaged ({reason}); `python -m index build` rebuilds it", file=sys.stderr)
        return 1
    catalog = Catalog(generation.catalog_path)
    manifest = read_manifest(catalog)
    print(
        f"index: {settings.resolved_index_dir}, generation {generation.name} (format {manifest.format_version}, built {manifest.built_at})"
    )
    print(f"embedding model: {manifest.embedding.id} ({manifest.embedding.dimension} dimensions)")
    chunking = manifest.chunking
    print(f"chunks: {chunking.size} chars, {chunking.overlap} overlap ({chunking.splitter})")
    documents = total = 0
    leaving = {**(catalog.meta().get("left_out") or {}), **left_out(settings.seeds_dir, catalog.hashes())}
    for source, sha256, chars, chunks, metadata in catalog.records():
        documents += 1
        total += chunks
        print(f"\n{visible(source, one_line=True)}: {chunks} chunks, {chars} chars, sha256 {sha256[:12]}")
        if source in leaving:
            print(
                f"  left out of answers: its file changed since it was indexed and cannot be read "
                f"({visible(leaving[source], one_line=True)}); once it can, `python -m index build` indexes it again"
            )
        for name, value in metadata.fields().items():
            print(f"  {name:<9} {visible(value)}")
        if metadata.keyword_share > settings.max_keyword_share:
            print(
                f"  keyword-stuffed: {metadata.keyword_share:.0%} of its words repeat its five most frequent "
                "ones; its passages rank after every other document's (QA_MAX_KEYWORD_SHARE)"
            )
        if note := metadata.addressing_note(settings.max_addressed_share):
            print(f"  {note}")
    for duplicate, original in sorted(catalog.meta().get("duplicates", {}).items()):
        duplicate, original = visible(duplicate, one_line=True), visible(original, one_line=True)
        print(f"\n{duplicate}: not indexed, same content as {original}")
    pending = pending_seeds(layout, catalog)
    for seed in pending:
        print(f"\n{visible(seed.describe(), one_line=True)}")
    print(
        f"\n{documents} documents, {total} chunks"
        + (f"; {len(pending)} still to index" if pending else "")
        + (f"; {len(leaving)} left out of answers" if leaving else "")
    )
    catalog.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="add, replace and remove what changed in the seeds folder")
    build.add_argument("--rebuild", action="store_true", help="build the index anew from the seeds")
    build.add_argument(
        "--no-wait", action="store_true", help="exit at once (status 1) when another build is running"
    )
    commands.add_parser("status", help="list documents, chunks and their metadata")
    for command in commands.choices.values():
        command.add_argument("--seeds", help="seeds folder (default: seeds/)")
        command.add_argument("--index", help="index folder (default: data/index)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    overrides = {k: v for k, v in {"seeds_dir": args.seeds, "index_dir": args.index}.items() if v}
    try:
        settings = Settings.load(**overrides)
        if args.command == "build":
            return _build(settings, args.rebuild, not args.no_wait)
        return _status(settings)
    except QAError as error:
        print(f"error: {visible(str(error), one_line=True)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
