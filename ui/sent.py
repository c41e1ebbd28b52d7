"""What a client sent: a file is an upload only when Gradio's upload route stored it, in its upload
folder, from this client's request. Shared by the library (which adds it) and the upload box
(which takes it); imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import UploadError


def upload_folder() -> Path:
    """Gradio's folder for the files clients send (``GRADIO_TEMP_DIR``, else ``$TMPDIR/gradio``)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def sent_file(path: str | Path, folder: Path | None = None) -> Path:
    """``path`` when it names a regular file that Gradio's upload route stored in ``folder`` (by
    default :func:`upload_folder`); else :class:`UploadError`. A URL (not an absolute path), a path
    outside the folder or climbing with ``..``, and a symbolic link are refused: an upload is only
    ever the bytes a client sent, never a file of the server's.

    >>> sent_file("/etc/passwd", Path("/tmp/gradio"))
    Traceback (most recent call last):
    core.errors.UploadError: passwd: not a file sent with this upload
    >>> sent_file("https://example.org/a.txt", Path("/tmp/gradio"))
    Traceback (most recent call last):
    core.errors.UploadError: a.txt: not a file sent with this upload
    """
    given = Path(str(path))
    refused = UploadError(f"{given.name or str(path)}: not a file sent with this upload")
    if not given.is_absolute() or ".." in given.parts or given.is_symlink():
        raise refused
    folder = (folder or upload_folder()).resolve()
    try:
        resolved = given.resolve(strict=True)
    except (OSError, RuntimeError):
        raise refused from None
    if not resolved.is_file() or not resolved.is_relative_to(folder):
        raise refused
    return resolved
