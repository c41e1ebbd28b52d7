"""An upload is only ever bytes the client sent (issue 17, case 1): the library's upload event
refuses a server path and a URL in place of an uploaded file, with and without a log-in, and
stores nothing; files sent to Gradio's upload route are not served back and their folder is bounded.

The attack is the one a hostile client makes: a raw ``POST /gradio_api/queue/join`` naming the
upload event with ``{"path": "/some/file", "meta": {"_type": "gradio.FileData"}}`` as its data.

    HF_HUB_OFFLINE=1 python -m pytest tests/test_upload_paths.py -q      # about a minute
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import app
from tests.conftest import SEEDS
from tests.test_app import serve
from tests.test_exposure import PASSWORD, USER, files_under, log_in, multipart, request
from ui import exposure
from ui.settings import AppSettings

pytestmark = pytest.mark.slow

SECRET = "bob:the-password-nobody-may-read\n"


class Served:
    """A real app on loopback over a copy of the seeds of its own (an upload must not reach the
    session's shared seeds); ``cookie`` is the session's when the app has a log-in."""

    def __init__(self, port: int, seeds: Path, uploads: Path, cookie: str | None) -> None:
        self.port, self.seeds, self.uploads, self.cookie = port, seeds, uploads, cookie

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie} if self.cookie else {}

    def upload_event(self) -> tuple[int, int]:
        """``(fn_index, trigger id)`` of the library's upload event, read from the app's config."""
        status, body, _ = request(self.port, "GET", "/config", headers=self.headers)
        assert status == 200, body
        config = json.loads(body)
        box = next(
            c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "library-upload"
        )
        for n, dependency in enumerate(config["dependencies"]):
            if [box, "upload"] in [list(t) for t in dependency["targets"]]:
                return dependency.get("id", n), box
        raise AssertionError("no upload event in the app's config")

    def send_upload_event(self, path: str) -> str:
        """Join the queue for the upload event with ``path`` as the file; the event's whole stream."""
        fn_index, trigger = self.upload_event()
        session = uuid.uuid4().hex[:10]
        payload = {
            "data": [[{"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": Path(path).name}]],
            "fn_index": fn_index,
            "trigger_id": trigger,
            "session_hash": session,
            "event_data": None,
        }
        headers = self.headers | {"Content-Type": "application/json"}
        status, body, _ = request(
            self.port, "POST", "/gradio_api/queue/join", json.dumps(payload).encode(), headers
        )
        assert status == 200, body
        status, stream, _ = request(
            self.port, "GET", f"/gradio_api/queue/data?session_hash={session}", headers=self.headers
        )
        assert status == 200
        assert "process_completed" in stream, stream
        return stream


def serve_app(root: Path, embeddings, monkeypatch: pytest.MonkeyPatch, **values: object) -> Iterator[Served]:
    from qa.pipeline import Pipeline

    seeds, uploads = root / "seeds", root / "gradio-uploads"
    shutil.copytree(SEEDS, seeds)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))  # read by Gradio's App when it is made
    settings = AppSettings(_env_file=None, seeds_dir=seeds, data_dir=root / "data", **values)  # type: ignore[call-arg, arg-type]
    asgi = app.create_app(Pipeline(settings, embeddings=embeddings))
    assert asgi.state.index_status.wait(180), asgi.state.index_status.message
    with serve(asgi) as port:
        cookie = log_in(port) if values.get("auth") else None
        yield Served(port, seeds, uploads, cookie)


@pytest.fixture(scope="module", params=["open", "log-in"])
def served(
    request: pytest.FixtureRequest, embeddings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    values: dict[str, object] = {"max_upload_bytes": 200_000}
    if request.param == "log-in":
        values["auth"] = f"{USER}:{PASSWORD}"
    with pytest.MonkeyPatch.context() as patch:
        yield from serve_app(tmp_path_factory.mktemp(f"uploads-{request.param}"), embeddings, patch, **values)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file the server can read and no client may: the shape of a ``QA_AUTH_FILE``."""
    path = tmp_path / "private" / "users.txt"
    path.parent.mkdir()
    path.write_text(SECRET, encoding="utf-8")
    return path


def uploaded_seeds(served: Served) -> list[Path]:
    return files_under(served.seeds / "uploads")


@pytest.mark.parametrize("suffix", [".txt", ".md"])
def test_a_server_path_in_place_of_an_upload_is_refused(served: Served, tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"notes{suffix}"
    target.write_text(SECRET, encoding="utf-8")
    before = files_under(served.uploads)
    stream = served.send_upload_event(str(target))
    assert "Added" not in stream and "being indexed" not in stream
    assert uploaded_seeds(served) == []
    assert files_under(served.uploads) == before  # not copied into Gradio's folder either
    assert target.read_text(encoding="utf-8") == SECRET  # and never deleted
    status, body, _ = request(served.port, "GET", f"/doc/uploads/notes{suffix}", headers=served.headers)
    assert status == 404 and "nobody" not in body


def test_the_auth_file_cannot_be_read_through_an_upload(served: Served, secret: Path) -> None:
    stream = served.send_upload_event(str(secret))
    assert "nobody-may-read" not in stream and "Added" not in stream
    assert uploaded_seeds(served) == []
    status, body, _ = request(served.port, "GET", "/doc/uploads/users.txt", headers=served.headers)
    assert status == 404 and "nobody-may-read" not in body
    assert secret.read_text(encoding="utf-8") == SECRET


def test_a_path_that_climbs_out_of_the_upload_folder_is_refused(served: Served, secret: Path) -> None:
    climbing = served.uploads / ".." / ".." / secret.relative_to(secret.anchor)
    stream = served.send_upload_event(str(served.uploads) + "/" + "/".join([".."] * 12) + str(secret))
    assert "Added" not in stream and uploaded_seeds(served) == []
    assert "Added" not in served.send_upload_event(str(climbing))
    assert uploaded_seeds(served) == []


def test_a_url_in_place_of_an_upload_is_refused(served: Served) -> None:
    url = f"http://127.0.0.1:{served.port}/doc/001_8ecca554f728260b.txt"
    stream = served.send_upload_event(url)
    assert "Added" not in stream and uploaded_seeds(served) == []


def test_a_file_sent_to_the_upload_route_is_not_served_back(served: Served) -> None:
    body, headers = multipart("sent.txt", b"bytes this client sent")
    status, text, _ = request(served.port, "POST", "/gradio_api/upload", body, headers | served.headers)
    assert status == 200, text
    stored = json.loads(text)[0]
    for route in (f"/gradio_api/file={stored}", f"/gradio_api/file={stored.lstrip('/')}"):
        status, text, _ = request(served.port, "GET", route, headers=served.headers)
        assert status in (403, 404) and "bytes this client sent" not in text, route
    # The file the client sent is what the upload event adds, and Gradio's copy is then gone.
    stream = served.send_upload_event(stored)
    assert "Added uploads/sent.txt" in stream, stream
    assert not Path(stored).exists()
    assert (served.seeds / "uploads" / "sent.txt").read_bytes() == b"bytes this client sent"
    remove = served.seeds / "uploads" / "sent.txt"
    remove.unlink()
    for sidecar in remove.parent.glob("sent.txt*"):
        sidecar.unlink()


def test_the_upload_folder_is_bounded(embeddings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files sent without the event do not pile up: past QA_MAX_UPLOAD_FOLDER_BYTES the route says
    no (507), and nothing more is stored."""
    for served in serve_app(
        tmp_path, embeddings, monkeypatch, max_upload_bytes=40_000, max_upload_folder_bytes=100_000
    ):
        statuses = []
        for n in range(6):  # different bytes each time: Gradio stores a file under its hash
            body, headers = multipart("piece.txt", bytes([65 + n]) * 30_000)
            statuses.append(request(served.port, "POST", "/gradio_api/upload", body, headers)[0])
        assert statuses[:3] == [200, 200, 200] and set(statuses[3:]) == {507}, statuses
        assert sum(p.stat().st_size for p in files_under(served.uploads)) <= 100_000


def test_the_upload_box_never_fetches_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit: the box refuses a URL before Gradio would download it (loopback or not)."""
    import asyncio

    from gradio import processing_utils

    from ui.upload_box import upload_box

    fetched: list[str] = []

    async def download(url: str, cache_dir: str) -> str:
        fetched.append(url)
        return "/tmp/x"

    monkeypatch.setattr(processing_utils, "async_ssrf_protected_download", download)
    box = upload_box()
    for url in ("https://example.org/users.txt", "http://10.0.0.1/a.md"):
        with pytest.raises(Exception, match="not a file sent"):
            asyncio.run(box.async_move_resource_to_block_cache(url))
    assert fetched == []
    assert exposure.FILE_ROUTE.startswith("/gradio_api/file=")
