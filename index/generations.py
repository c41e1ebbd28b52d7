"""Index generations: each build writes a new one beside the one being served, then publishes it
with one atomic switch.

    data/index/
      CURRENT            the name of the published generation (replaced atomically)
      .build.lock        held by the one build that may run at a time
      .build.progress    what that build reads or embeds, how far it is (JSON, for `index status`;
                         left behind by a build that was killed, until the next build)
      g000007/           a generation: catalog.sqlite3 (+ chroma/ for a local index)
      g000008/           being built: never read until CURRENT names it

With a ``chroma run`` server a generation's vectors are the server's collection
``<collection>-<generation>``; the catalog stays in the folder. A build that is killed leaves an
unpublished folder that the next build removes; the served generation is never written, so
readers keep answering from it throughout. After a publish the previous generation is kept (a
process may be answering from it this moment) and older ones are removed. A build with a lot to
embed publishes what it has finished on the way (``index.build``): it keeps the lock throughout.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import (
    DiskFullError,
    IndexBusyError,
    IndexCorruptError,
    IndexMissingError,
    IndexReadOnlyError,
)
from index.catalog import CATALOG_NAME
from index.store import Generation

if TYPE_CHECKING:
    from core.settings import Settings

CURRENT = "CURRENT"
LOCK = ".build.lock"
PROGRESS = ".build.progress"
_NAME = re.compile(r"g\d{6}")


class Layout:
    """Where the generations of the index for ``settings`` live, and how they are switched."""

    def __init__(self, settings: Settings) -> None:
        from index.remote import ServerCatalogs

        self.settings = settings
        self.root = settings.resolved_index_dir
        # With a server, the published pointer and the catalogs live there too (index.remote).
        self.remote = ServerCatalogs(settings) if settings.chroma_host else None

    def generation(self, name: str) -> Generation:
        collection = (
            f"{self.settings.collection}-{name}" if self.settings.chroma_host else self.settings.collection
        )
        return Generation(name, self.root / name, collection)

    def current_name(self) -> str | None:
        """The published generation's name (a few bytes read: cheap enough for every question;
        with a server, its pointer, asked at most once a second)."""
        if self.remote is not None:
            name = self.remote.current_name()
            return name if name and _NAME.fullmatch(name) else None
        try:
            name = (self.root / CURRENT).read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise IndexCorruptError(
                f"Cannot read {self.root / CURRENT} ({error}); run `python -m index build`"
            ) from error
        return name if _NAME.fullmatch(name) else None

    def current(self) -> Generation:
        """The published generation; ``IndexMissingError`` when there is none."""
        name = self.current_name()
        if name is not None and self.remote is not None and not (self.root / name / CATALOG_NAME).is_file():
            self.remote.download(name, self.root / name / CATALOG_NAME)  # built on another machine
        if name is None or not (self.root / name / CATALOG_NAME).is_file():
            if (self.root / "manifest.json").is_file():
                raise IndexMissingError(
                    f"The index in {self.root} has an older format: run `python -m index build` to build it anew"
                )
            raise IndexMissingError(f"No index in {self.root}: run `python -m index build`")
        return self.generation(name)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.fullmatch(p.name))

    def new_generation(self) -> Generation:
        """A fresh, empty folder for the next generation (call with the build lock held)."""
        names = self.names()
        current = self.current_name()
        remote = self.remote.generation_numbers() if self.remote is not None else []
        last = max([int(n[1:]) for n in names] + [int(current[1:]) if current else 0] + remote)
        generation = self.generation(f"g{last + 1:06d}")
        generation.folder.mkdir(parents=True)
        return generation

    def publish(self, generation: Generation) -> None:
        """Make ``generation`` the served one: one atomic rename of a file written and synced
        (with a server, after its catalog is uploaded and the server's pointer moved)."""
        if self.remote is not None:
            self.remote.publish(generation.name, generation.catalog_path)
        tmp = self.root / f".{CURRENT}.{os.getpid()}"
        with open(tmp, "w", encoding="ascii") as handle:
            handle.write(generation.name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.root / CURRENT)
        with contextlib.suppress(OSError):  # the rename itself made durable where the OS allows
            directory = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def stale(self, keep: set[str]) -> list[Generation]:
        """Generations other than ``keep``: unpublished leftovers of killed builds, or superseded
        (with a server, those it holds too, whichever machine built them)."""
        names = set(self.names())
        if self.remote is not None:
            names |= {f"g{n:06d}" for n in self.remote.generation_numbers()}
        return [self.generation(n) for n in sorted(names) if n not in keep]

    def set_aside(self, generation: Generation, why: str) -> Path:
        """Move a damaged generation out of the way (kept for inspection, never read again)."""
        target = self.root / f"damaged-{generation.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        os.replace(generation.folder, target)
        (target / "WHY.txt").write_text(why + "\n", encoding="utf-8")
        return target

    def legacy_files(self) -> list[Path]:
        """What an index of the format before generations left at the top of the folder."""
        return [p for p in (self.root / "manifest.json", self.root / "chroma") if p.exists()]

    @contextlib.contextmanager
    def build_lock(self, wait: bool = True, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the lock that lets one build run at a time (across processes).

        ``wait=False`` raises ``IndexBusyError`` at once when another build holds it; otherwise
        ``on_wait`` (a callable taking a message) is told, and this waits for it to finish."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = open(self.root / LOCK, "a+")  # noqa: SIM115 - held for the whole block
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise DiskFullError(
                    f"The disk holding {self.root} is full; the index being served is unchanged. "
                    "Free some space and build again"
                ) from error
            raise IndexReadOnlyError(
                f"Cannot write to the index folder {self.root} ({error.strerror or error}); "
                "the index there can be served as it is, not built or updated"
            ) from error
        try:
            try:
                _lock_now(handle)
            except BlockingIOError:
                holder = _holder(handle)
                message = f"Another build of {self.root} is running{holder}"
                if not wait:
                    raise IndexBusyError(f"{message}; try again when it has finished") from None
                if on_wait is not None:
                    on_wait(f"{message}; waiting for it to finish…")
                fcntl.flock(handle, fcntl.LOCK_EX)
            # Who holds it is for people to read (written unbuffered: a full disk must not stop
            # the build here, nor fail closing the file; the build reports the disk itself).
            with contextlib.suppress(OSError):
                os.ftruncate(handle.fileno(), 0)
                os.pwrite(handle.fileno(), f"{os.getpid()}\n".encode("ascii"), 0)
            try:
                yield
            finally:  # only the holder clears the holder's records
                with contextlib.suppress(OSError):
                    (self.root / PROGRESS).unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    os.ftruncate(handle.fileno(), 0)
        finally:
            handle.close()  # closing releases the lock

    def build_running(self) -> bool:
        """Whether a build (of any process, this one included) holds the build lock now."""
        try:
            handle = open(self.root / LOCK)  # noqa: SIM115 - closed below; never created here
        except OSError:
            return False
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)  # released when closed, at once
            except BlockingIOError:
                return True
            except OSError:
                return False
            return False

    def write_progress(self, values: dict[str, Any]) -> None:
        """Record how far the running build is (call with the build lock held): replaced whole,
        so a reader sees the last record or the one before, never half of one."""
        tmp = self.root / f".{PROGRESS}.{os.getpid()}"
        with contextlib.suppress(OSError):  # progress is for people to read: never fails a build
            tmp.write_text(json.dumps(values), encoding="utf-8")
            os.replace(tmp, self.root / PROGRESS)

    def stopped_progress(self) -> tuple[dict[str, Any], float] | None:
        """The last record of a build that stopped before finishing (killed: it could not remove
        it) and when it was written; ``None`` while a build runs or when none was left."""
        if self.build_running():
            return None
        try:
            path = self.root / PROGRESS
            values, when = json.loads(path.read_text(encoding="utf-8")), path.stat().st_mtime
        except (OSError, ValueError):
            return None
        return (values, when) if isinstance(values, dict) else None

    def read_progress(self) -> dict[str, Any] | None:
        """What the running build last recorded (:meth:`write_progress`); ``None`` when no build
        runs (one that was killed leaves its record, which means nothing then)."""
        if not self.build_running():
            return None
        try:
            values = json.loads((self.root / PROGRESS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return values if isinstance(values, dict) else None


def _lock_now(handle: Any) -> None:
    """Take the build lock or raise ``BlockingIOError``; tried twice, since a reader asking
    :meth:`Layout.build_running` holds it (shared) for a moment."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        time.sleep(0.05)
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _holder(handle: object) -> str:
    with contextlib.suppress(OSError, ValueError):
        handle.seek(0)  # type: ignore[attr-defined]
        pid = handle.read().strip()  # type: ignore[attr-defined]
        if pid.isdigit():
            return f" (process {pid})"
    return ""


def remove(generation: Generation) -> None:
    shutil.rmtree(generation.folder, ignore_errors=True)
