"""Command line for the index: ``python -m index build|status``. Errors print one line, exit 1."""

from __future__ import annotations

import argparse
import logging
import sys

from qa.errors import QAError
from qa.settings import Settings


def _build(settings: Settings, rebuild: bool) -> int:
    from tqdm import tqdm

    from index.build import build_index

    bar: tqdm | None = None

    def progress(done: int, total: int, source: str) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="chunk", desc="Embedding")
        bar.set_postfix_str(source)
        bar.update(done - bar.n)

    report = build_index(settings, rebuild=rebuild, progress=progress)
    if bar is not None:
        bar.close()
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    for skipped in report.skipped:
        print(f"skipped: {skipped} (not .txt or .md)", file=sys.stderr)
    print(report.summary())
    print(
        f"index: {settings.chroma_host + ':' + str(settings.chroma_port) if settings.chroma_host else settings.resolved_index_dir}"
    )
    return 1 if report.errors else 0


def _status(settings: Settings) -> int:
    from index.manifest import read_manifest

    manifest = read_manifest(settings.resolved_index_dir)
    print(
        f"index: {settings.resolved_index_dir} (format {manifest.format_version}, updated {manifest.updated_at})"
    )
    print(f"embedding model: {manifest.embedding.id} ({manifest.embedding.dimension} dimensions)")
    chunking = manifest.chunking
    print(f"chunks: {chunking.size} chars, {chunking.overlap} overlap ({chunking.splitter})")
    total = 0
    for source, record in sorted(manifest.documents.items()):
        total += len(record.chunk_ids)
        print(
            f"\n{source}: {len(record.chunk_ids)} chunks, {record.chars} chars, sha256 {record.sha256[:12]}"
        )
        for name, value in record.metadata.fields().items():
            print(f"  {name:<9} {value}")
    print(f"\n{len(manifest.documents)} documents, {total} chunks")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="add, replace and remove what changed in the seeds folder")
    build.add_argument("--rebuild", action="store_true", help="drop the index and build it anew")
    commands.add_parser("status", help="list documents, chunks and their metadata")
    for command in commands.choices.values():
        command.add_argument("--seeds", help="seeds folder (default: seeds/)")
        command.add_argument("--index", help="index folder (default: data/index)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    overrides = {k: v for k, v in {"seeds_dir": args.seeds, "index_dir": args.index}.items() if v}
    try:
        settings = Settings(**overrides)
        if args.command == "build":
            return _build(settings, args.rebuild)
        return _status(settings)
    except QAError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
