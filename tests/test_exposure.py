"""Exposing the app (ui/exposure.py): credentials and the loopback rule (fast, no model); the log-in,
the Host check, the body bound and the bounded uploads on the real app served on loopback; ``python
app.py --host 0.0.0.0`` refused or started; and a log-in in a real Chromium.

    HF_HUB_OFFLINE=1 python -m pytest tests/test_exposure.py -q                 # about a minute
    HF_HUB_OFFLINE=1 python -m pytest tests/test_exposure.py -q -m "not slow"   # seconds
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import app
from core.errors import SettingsError
from core.settings import PROJECT_ROOT, Settings
from tests.test_app import serve
from tests.test_browser import CHROMIUM, CHROMIUM_FLAGS, free_port, stop, wait_until_serving
from ui import exposure
from ui.chat import Chat
from ui.errors import CredentialsError, UnprotectedBindError
from ui.settings import AppSettings
from ui.status import IndexStatus

USER, PASSWORD = "alice", "wonder land:42"  # a space and a colon in the password on purpose
QUESTION = "Who reported 12,000 troops?"
CITED = "Ukrainian intelligence places the number at 12,000."
SOURCE = "001_8ecca554f728260b.txt"
LIMIT = 65_536  # the served app's QA_MAX_REQUEST_BYTES: the smallest allowed, to send little
UPLOAD_LIMIT = 200_000  # the served app's QA_MAX_UPLOAD_BYTES: over LIMIT, to show an upload has its own


def settings(**values: object) -> AppSettings:
    return AppSettings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


# --- credentials


def test_auth_pairs_are_split_at_commas_and_at_the_first_colon() -> None:
    value = f" {USER}:{PASSWORD} , bob:pw:x:y ,"
    assert exposure.parse_auth(value) == [(USER, PASSWORD), ("bob", "pw:x:y")]


@pytest.mark.parametrize("value", ["alice", "alice:", ":pw-secret-7", "ok:fine,carol-pw-secret-7"])
def test_a_malformed_auth_entry_is_named_and_not_shown(value: str) -> None:
    with pytest.raises(CredentialsError) as error:
        exposure.parse_auth(value)
    assert "QA_AUTH, entry" in str(error.value)
    assert "secret" not in str(error.value)


def test_auth_file_skips_comments_and_names_a_bad_line(tmp_path: Path) -> None:
    good = tmp_path / "users.txt"
    good.write_text(f"# who may log in\n\n{USER}:{PASSWORD}\n  bob : hunter2  \n", encoding="utf-8")
    assert exposure.read_auth_file(good) == [(USER, PASSWORD), ("bob", "hunter2")]

    bad = tmp_path / "bad.txt"
    bad.write_text(f"{USER}:{PASSWORD}\n# fine\nbob hunter2-secret\n", encoding="utf-8")
    with pytest.raises(CredentialsError) as error:
        exposure.read_auth_file(bad)
    assert str(error.value) == f"QA_AUTH_FILE {bad}, line 3: expected 'user:password' with neither part empty"


def test_an_auth_file_that_is_missing_or_empty_stops_the_app(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="Cannot read QA_AUTH_FILE"):
        exposure.read_auth_file(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("# nobody yet\n\n", encoding="utf-8")
    with pytest.raises(CredentialsError, match="holds no 'user:password' line"):
        exposure.read_auth_file(tmp_path / "empty.txt")


def test_credentials_come_from_both_settings_and_a_user_only_once(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("bob:hunter2\n", encoding="utf-8")
    assert exposure.load_credentials(settings()) == []
    assert exposure.load_credentials(settings(auth=f"{USER}:{PASSWORD}", auth_file=users)) == [
        (USER, PASSWORD),
        ("bob", "hunter2"),
    ]
    with pytest.raises(CredentialsError, match="'bob' is given twice"):
        exposure.load_credentials(settings(auth="bob:other", auth_file=users))


def test_the_password_never_shows_in_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_AUTH", f"{USER}:{PASSWORD}")
    monkeypatch.setenv("QA_TRUSTED_HOSTS", "qa.example.org, *.lan")
    loaded = settings()
    assert PASSWORD not in repr(loaded) and PASSWORD not in str(loaded.model_dump())
    assert exposure.load_credentials(loaded) == [(USER, PASSWORD)]
    assert loaded.trusted_hosts == ["qa.example.org", "*.lan"]


def test_the_apps_settings_live_with_the_app_and_extend_the_pipelines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The log-in, the limits of a request and the chat file are the app's (ui/settings.py), not the
    pipeline's; the app reads them beside the pipeline's settings it was given."""
    assert {"auth", "trusted_hosts", "max_request_bytes", "chat_db"}.isdisjoint(Settings.model_fields)
    monkeypatch.setenv("QA_AUTH", f"{USER}:{PASSWORD}")
    given = Settings(_env_file=None, top_k=3)  # type: ignore[call-arg]
    app_settings = AppSettings.of(given)
    assert app_settings.top_k == 3 and exposure.load_credentials(app_settings) == [(USER, PASSWORD)]
    assert AppSettings.of(app_settings) is app_settings
    with pytest.raises(
        SettingsError, match="QA_MAX_REQUEST_BYTES='12' is not valid: a whole number of at least 65536"
    ):
        monkeypatch.setenv("QA_MAX_REQUEST_BYTES", "12")
        AppSettings.load()


# --- where the app listens


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "qa.example.org"])
def test_a_non_loopback_bind_needs_a_log_in_or_the_waiver(host: str) -> None:
    with pytest.raises(UnprotectedBindError) as error:
        exposure.check_bind(host, settings())
    message = str(error.value)
    assert "\n" not in message and "QA_AUTH=" in message and "QA_ALLOW_UNAUTHENTICATED=true" in message
    exposure.check_bind(host, settings(auth="alice:pw"))
    exposure.check_bind(host, settings(allow_unauthenticated=True))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "::1", "localhost"])
def test_a_loopback_bind_needs_nothing(host: str) -> None:
    exposure.check_bind(host, settings())


def test_trusted_hosts_add_the_bound_address_but_not_a_wildcard() -> None:
    assert exposure.trusted_hosts(settings(), "192.168.1.5") == [
        "localhost",
        "127.0.0.1",
        "::1",
        "192.168.1.5",
    ]
    assert exposure.trusted_hosts(settings(), "0.0.0.0") == ["localhost", "127.0.0.1", "::1"]
    assert exposure.trusted_hosts(settings(trusted_hosts="QA.example.org"), "[::]") == ["qa.example.org"]


# --- the real app on loopback, log-in on


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str, http.client.HTTPResponse]:
    """One request exactly as written: status, body text, response (for its headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace"), response
    finally:
        conn.close()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def log_in(port: int, password: str = PASSWORD) -> str | None:
    """Log in as Gradio's login form does; the Cookie header of the session, or None when refused."""
    from urllib.parse import urlencode

    body = urlencode({"username": USER, "password": password}).encode()
    status, _, response = request(port, "POST", "/login", body, FORM)
    cookies = response.msg.get_all("set-cookie") or []
    if status != 200:
        assert not cookies
        return None
    return "; ".join(cookie.split(";", 1)[0] for cookie in cookies)


def multipart(name: str, content: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = "qa-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.fixture(scope="module")
def guarded(seeds_settings: Settings, embeddings, tmp_path_factory: pytest.TempPathFactory):
    """The app over the session's real index with a log-in, a 64 KB body bound and a 200 KB upload
    bound, on loopback; ``(port, Gradio's upload folder)``."""
    from qa.pipeline import Pipeline

    uploads = tmp_path_factory.mktemp("gradio-uploads")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_TEMP_DIR", str(uploads))  # read by Gradio's App when it is made
        values = {"seeds_dir": seeds_settings.seeds_dir, "data_dir": seeds_settings.data_dir}
        served = settings(
            **values, auth=f"{USER}:{PASSWORD}", max_request_bytes=LIMIT, max_upload_bytes=UPLOAD_LIMIT
        )
        asgi = app.create_app(Pipeline(served, embeddings=embeddings))
    assert exposure.mounted_gradio(asgi).uploaded_file_dir == str(uploads)
    assert asgi.state.index_status.wait(120), asgi.state.index_status.message
    with serve(asgi) as port:
        yield port, uploads


@pytest.mark.slow
def test_without_a_log_in_nothing_is_served_but_the_login_form(guarded) -> None:
    port, _ = guarded
    status, page, _ = request(port, "GET", "/")
    assert status == 200 and '"auth_required":true' in page and QUESTION not in page
    for path in ("/config", "/gradio_api/info", f"/doc/{SOURCE}", "/doc/"):
        status, body, _ = request(port, "GET", path)
        assert status == 401, path
        assert CITED not in body and QUESTION not in body
    status, _, _ = request(port, "POST", "/gradio_api/call/ask", json.dumps({"data": [QUESTION]}).encode())
    assert status == 401
    assert log_in(port, password="wonder land:41") is None


@pytest.mark.slow
def test_with_a_log_in_the_page_the_documents_and_the_api_are_served(guarded) -> None:
    port, _ = guarded
    cookie = log_in(port)
    assert cookie
    status, page, _ = request(port, "GET", "/", headers={"Cookie": cookie})
    assert status == 200 and QUESTION in page and '"auth_required":true' not in page
    status, _, _ = request(port, "GET", "/config", headers={"Cookie": cookie})
    assert status == 200
    status, body, _ = request(port, "GET", f"/doc/{SOURCE}", headers={"Cookie": cookie})
    assert status == 200 and CITED in body
    status, body, _ = request(port, "GET", "/doc/not-a-seed.txt", headers={"Cookie": cookie})
    assert status == 404 and "in the index" in body  # the document view itself answers


@pytest.mark.slow
def test_the_ask_api_needs_the_credentials(guarded) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AuthenticationError

    port, _ = guarded
    url = f"http://127.0.0.1:{port}/"
    with pytest.raises(ValueError, match="Could not login"):
        Client(url, auth=(USER, "wrong"), verbose=False)
    with pytest.raises(AuthenticationError, match="credentials were not provided"):
        Client(url, verbose=False)  # it cannot even read the app's API without a log-in
    answer = Client(url, auth=(USER, PASSWORD), verbose=False).predict(QUESTION, api_name="/ask")
    assert "Ukrainian intelligence" in answer["text"] and answer["citations"][0]["quote"] == CITED


def test_gradio_takes_files_up_to_the_upload_limit_and_none_when_it_is_0() -> None:
    assert exposure.gradio_options(settings(max_upload_bytes=123))["max_file_size"] == 123
    assert exposure.gradio_options(settings(max_upload_bytes=0))["max_file_size"] == 0


@pytest.mark.slow
def test_uploads_are_bounded_and_need_the_log_in(guarded) -> None:
    port, uploads = guarded
    cookie = log_in(port)
    assert cookie
    before = files_under(uploads)
    small, headers = multipart("note.txt", b"hello")
    # No audio input on the page: the recording route stays refused, logged in or not.
    for path in ("/gradio_api/process_recording", "/gradio_api/process_recording/"):
        status, body, _ = request(port, "POST", path, small, headers | {"Cookie": cookie})
        assert status == 403 and "Uploads are off" in body, path
    # Without the log-in: refused by Gradio's own check, nothing stored.
    status, _, _ = request(port, "POST", "/gradio_api/upload", small, headers)
    assert status == 401
    assert files_under(uploads) == before
    # Announced over the limit (the 5 MB): 413 from the head, nothing read or stored.
    large, headers = multipart("big.txt", b"x" * 5_000_000)
    head = (
        f"POST /gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
        f"Content-Type: {headers['Content-Type']}\r\nContent-Length: {len(large)}\r\n\r\n"
    )
    answer = raw_exchange(port, head.encode(), [large[i : i + 65536] for i in range(0, len(large), 65536)])
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"QA_MAX_UPLOAD_BYTES" in answer
    # A file just over the limit, in a body the form's slack lets through: Gradio refuses the file.
    over, headers = multipart("over.txt", b"x" * (UPLOAD_LIMIT + 1))
    status, body, _ = request(port, "POST", "/gradio_api/upload", over, headers | {"Cookie": cookie})
    assert status == 413, body
    assert files_under(uploads) == before
    # Under the limit, logged in: taken (over QA_MAX_REQUEST_BYTES: an upload has its own bound).
    under, headers = multipart("under.txt", b"y" * (UPLOAD_LIMIT - 1000))
    assert len(under) > LIMIT
    status, body, _ = request(port, "POST", "/gradio_api/upload", under, headers | {"Cookie": cookie})
    assert status == 200, body
    stored = [Path(p) for p in json.loads(body)]
    assert len(stored) == 1 and stored[0].read_bytes() == b"y" * (UPLOAD_LIMIT - 1000)
    # Any other request over QA_MAX_REQUEST_BYTES is still refused.
    status, _, _ = request(port, "POST", "/login", b"a" * (LIMIT + 1), FORM)
    assert status == 413


@pytest.mark.slow
@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LOCALHOST"])
def test_the_local_host_names_are_accepted(guarded, host: str) -> None:
    port, _ = guarded
    status, page, _ = request(port, "GET", "/", headers={"Host": host.format(port=port)})
    assert status == 200 and '"auth_required":true' in page


@pytest.mark.slow
@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example", "[::1"])
def test_another_host_name_is_refused(guarded, host: str) -> None:
    port, _ = guarded
    for method, path, body in (("GET", "/", None), ("POST", "/login", f"username={USER}".encode())):
        status, text, _ = request(port, method, path, body, FORM | {"Host": host.format(port=port)})
        assert status == 400 and text == "Host header not accepted: add the name to QA_TRUSTED_HOSTS\n"


def raw_exchange(port: int, head: bytes, chunks: list[bytes]) -> bytes:
    """Send a request's head and then its body in chunks, stopping when the server stops
    listening; everything the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:  # refused midway and closed: the answer is already on its way
            pass
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except ConnectionResetError:
            pass
        return answer


def chunked(total: int, piece: int = 8192) -> list[bytes]:
    """A login form of ``total`` bytes (a long wrong password) in HTTP chunked encoding."""
    body = f"username={USER}&password=".encode()
    body += b"a" * (total - len(body))
    pieces = [body[i : i + piece] for i in range(0, total, piece)]
    return [f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces] + [b"0\r\n\r\n"]


@pytest.mark.slow
def test_a_body_over_the_limit_is_refused_announced_or_chunked(guarded) -> None:
    port, _ = guarded
    head = f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    # Announced: refused from the head alone, before a byte of the body is sent.
    answer = raw_exchange(port, (head + f"Content-Length: {10 * LIMIT}\r\n\r\n").encode(), [])
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    # Chunked, no length given: refused once the bytes read pass the limit.
    answer = raw_exchange(port, (head + "Transfer-Encoding: chunked\r\n\r\n").encode(), chunked(3 * LIMIT))
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"QA_MAX_REQUEST_BYTES" in answer
    # Under the limit, chunked: read whole and answered by the login route (wrong credentials: 400).
    answer = raw_exchange(port, (head + "Transfer-Encoding: chunked\r\n\r\n").encode(), chunked(LIMIT - 100))
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


@pytest.mark.slow
def test_a_long_conversation_fits_the_default_body_limit(pipeline) -> None:
    """What the page sends with a question: the chat so far (each answer's HTML with its sources
    and passages) and the turns; 100 answers of it stay under the default QA_MAX_REQUEST_BYTES."""
    status = IndexStatus()
    status.finish("Ready")
    chat = Chat(pipeline, status)
    *_, (messages, turns, _) = chat.respond(QUESTION, [], [], 6, "extractive", True)
    one_turn = len(json.dumps({"data": [QUESTION, messages, turns, 6, "extractive", True]}).encode())
    assert one_turn > 5_000, one_turn  # an answer with sources and passages, not an error message
    assert 100 * one_turn < AppSettings.model_fields["max_request_bytes"].default, one_turn


# --- python app.py --host 0.0.0.0


def app_env(root: Path, **values: str) -> dict[str, str]:
    """The environment of an ``app.py`` run: no QA_ setting of the developer's, an empty seeds folder."""
    (root / "seeds").mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("QA_", "GRADIO_"))}
    return env | {
        "QA_SEEDS_DIR": str(root / "seeds"),
        "QA_DATA_DIR": str(root / "data"),
        "QA_AUTO_BUILD": "false",
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        **values,
    }


def run_app(root: Path, *args: str, **values: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(PROJECT_ROOT / "app.py"), *args]
    return subprocess.run(
        command, cwd=root, env=app_env(root, **values), capture_output=True, text=True, timeout=120
    )


def test_app_refuses_an_open_bind_without_a_log_in(tmp_path: Path) -> None:
    done = run_app(tmp_path, "--host", "0.0.0.0", "--port", str(free_port()))
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == (
        "error: Refusing to serve on 0.0.0.0 without a log-in: set QA_AUTH=user:password (or QA_AUTH_FILE), "
        "or QA_ALLOW_UNAUTHENTICATED=true to let anyone who reaches the port use the app"
    )


def test_app_refuses_a_malformed_auth_file_without_showing_it(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("alice hunter2-secret\n", encoding="utf-8")
    done = run_app(tmp_path, "--port", str(free_port()), QA_AUTH_FILE=str(users))
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: QA_AUTH_FILE {users}, line 1: expected")
    assert "hunter2" not in done.stderr + done.stdout


Started = tuple["subprocess.Popen[bytes]", int, Path]  # the process, its port, its log


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Callable[..., Started]]:
    """``start(*args, **env)``: ``app.py --port N *args`` running; stopped when the test ends."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*args: str, **values: str) -> Started:
        port, log = free_port(), tmp_path / "app.log"
        command = [sys.executable, str(PROJECT_ROOT / "app.py"), *args, "--port", str(port)]
        with log.open("w") as out:
            process = subprocess.Popen(
                command, cwd=tmp_path, env=app_env(tmp_path, **values), stdout=out, stderr=subprocess.STDOUT
            )
        processes.append(process)
        return process, port, log

    yield start
    for process in processes:
        stop(process)


@pytest.mark.slow
def test_app_serves_an_open_bind_with_the_waiver(started) -> None:
    process, port, log = started("--host", "0.0.0.0", QA_ALLOW_UNAUTHENTICATED="true")
    wait_until_serving(f"http://127.0.0.1:{port}/", process, log)
    status, page, _ = request(port, "GET", "/")
    assert status == 200 and QUESTION in page  # no log-in asked for
    status, _, _ = request(port, "GET", "/", headers={"Host": "evil.example"})
    assert status == 400
    assert "without a log-in (QA_ALLOW_UNAUTHENTICATED)" in log.read_text()


# --- a real browser


@pytest.mark.browser
def test_log_in_and_ask_in_a_real_browser(started, seeds_settings: Settings) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # The session's index, already built; this app only reads it.
    process, port, log = started(
        "--host",
        "127.0.0.1",
        QA_SEEDS_DIR=str(seeds_settings.seeds_dir),
        QA_DATA_DIR=str(seeds_settings.data_dir),
        QA_WATCH_SEEDS="0",
        QA_AUTH=f"{USER}:{PASSWORD}",
    )
    url = f"http://127.0.0.1:{port}/"
    wait_until_serving(url, process, log)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            session = browser.new_context(viewport={"width": 1100, "height": 800})
            page = session.new_page()
            page.goto(url)
            page.get_by_label("username").fill(USER)
            page.get_by_label("password").fill("not the password")
            page.get_by_role("button", name="Login").click()
            page.get_by_text("Incorrect Credentials").wait_for(timeout=30_000)
            assert page.locator("#question").count() == 0

            page.get_by_label("username").fill(USER)  # the form empties it after a refusal
            page.get_by_label("password").fill(PASSWORD)
            page.get_by_role("button", name="Login").click()
            page.locator("#index-status").get_by_text("Ready").wait_for(timeout=120_000)
            page.locator("#question textarea").fill(QUESTION)
            page.locator("#question textarea").press("Enter")
            page.wait_for_function("document.querySelectorAll('#chat .qa-meta').length > 0", timeout=120_000)
            answer = page.locator('#chat [data-testid="bot"]').last
            assert "Ukrainian intelligence" in answer.locator(".qa-answer").inner_text()

            # The cited document opens in the logged-in browser, and not in one without the session.
            href = answer.locator("a.qa-doc-link").first.get_attribute("href")
            assert href
            document = session.new_page()
            document.goto(url + href)
            assert document.locator("mark#cited").inner_text() == CITED
            stranger = browser.new_page()
            assert stranger.goto(url + href).status == 401  # type: ignore[union-attr]
            assert stranger.locator("mark").count() == 0
        finally:
            browser.close()


@pytest.mark.slow
def test_failed_log_ins_back_off_per_account_and_address(guarded) -> None:
    """50 wrong passwords in a row: after the first 5 each is refused unread (429, Retry-After), and
    the right password is refused too until the lock has passed; then it logs in (issue 17, case 6)."""
    import time
    from urllib.parse import urlencode

    port, _ = guarded

    def attempt(password: str, user: str = USER) -> tuple[int, str, http.client.HTTPResponse]:
        return request(
            port, "POST", "/login", urlencode({"username": user, "password": password}).encode(), FORM
        )

    assert log_in(port) is not None  # clears what earlier tests' wrong passwords left on the address
    statuses = [attempt(f"wrong-{n}")[0] for n in range(50)]
    # The 6th failure locks for 1 s, the next for 2 s...: a slow machine may let one through as a lock ends.
    assert statuses[:7] == [400] * 6 + [429] and statuses.count(429) >= 40, statuses
    status, text, response = attempt(PASSWORD)
    assert status == 429 and "Too many failed log-ins" in text
    wait = int(response.getheader("Retry-After") or 0)
    assert 1 <= wait <= 8
    # Another account from the same address waits too (the address is locked).
    assert attempt("x", user="mallory")[0] == 429
    time.sleep(wait + 0.2)
    assert log_in(port) is not None  # a success clears the account and the address
    assert attempt("wrong-again")[0] == 400


@pytest.mark.slow
def test_two_host_headers_are_refused(guarded) -> None:
    """The check read the last of two Host headers: ``evil.example`` then ``127.0.0.1`` got 200."""
    port, _ = guarded
    for hosts in (("evil.example", f"127.0.0.1:{port}"), (f"127.0.0.1:{port}", "evil.example")):
        head = f"GET / HTTP/1.1\r\nHost: {hosts[0]}\r\nHost: {hosts[1]}\r\nConnection: close\r\n\r\n"
        answer = raw_exchange(port, head.encode(), [])
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


def test_a_body_sent_too_slowly_is_cut_with_408() -> None:
    """A client that announces 2 MB and sends 1 byte is not waited on forever (BodyLimit, unit)."""
    import asyncio

    async def app(scope, receive, send) -> None:  # reads the whole body, as FastAPI's routes do
        while (await receive()).get("more_body"):
            pass
        await exposure.plain_response(send, 200, "read\n")

    sent: list[dict] = []

    async def run() -> None:
        pieces = [{"type": "http.request", "body": b"x", "more_body": True}]

        async def receive() -> dict:
            if pieces:
                return pieces.pop()
            await asyncio.sleep(3600)  # the client goes quiet
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "path": "/gradio_api/queue/join",
            "headers": [(b"content-length", b"2000000")],
        }
        limited = exposure.BodyLimit(app, max_bytes=3_000_000, timeout=0.3)
        await asyncio.wait_for(limited(scope, receive, send), timeout=10)

    asyncio.run(run())
    assert sent[0]["status"] == 408 and b"not sent within 0.3 s" in sent[1]["body"]


@pytest.mark.slow
def test_a_request_sent_by_another_site_changes_nothing(guarded) -> None:
    """A page of another site can make the browser send a form, an upload or a text/plain body to
    this app, with the user's session cookie (Gradio sets it ``SameSite=None``, and browsers treat
    http://localhost as secure). Such a request carries the other site's ``Origin``: it is refused
    (403) before it reaches Gradio, and nothing is stored; the page's own requests pass."""
    port, uploads = guarded
    cookie = log_in(port)
    assert cookie
    before = files_under(uploads)
    upload, headers = multipart("planted.txt", b"a page another site sent")
    join = json.dumps({"fn_index": 0, "data": ["x"], "session_hash": "s"}).encode()
    for origin in (
        "http://evil.example",
        "null",
        f"http://localhost:{port + 1}",
        "http://127.0.0.1.evil.example",
    ):
        for path, body, kind in (
            ("/gradio_api/upload", upload, headers),
            ("/gradio_api/queue/join", join, {"Content-Type": "text/plain"}),
            ("/login", b"username=alice&password=x", FORM),
        ):
            sent = kind | {"Cookie": cookie, "Origin": origin}
            status, text, _ = request(port, "POST", path, body, sent)
            assert status == 403 and "another site" in text, (origin, path, status, text)
    assert files_under(uploads) == before
    own = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}
    status, body, _ = request(port, "POST", "/gradio_api/upload", upload, headers | own)
    assert status == 200, body
    status, _, _ = request(port, "GET", "/", headers={"Cookie": cookie, "Origin": "http://evil.example"})
    assert status == 200  # reading is not changing: a cross-site page cannot read the answer anyway
