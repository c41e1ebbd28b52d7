"""Making the app safe to reach from other machines: a log-in, trusted Host names, a bounded
request size and bounded uploads. ``app.py`` wires it in; the settings are the ``QA_`` ones of the
ui/settings.py (AppSettings).

    QA_AUTH=alice:s3cret python app.py --host 0.0.0.0        # log-in required on every page and API
    QA_AUTH_FILE=users.txt QA_TRUSTED_HOSTS=qa.example.org python app.py --host 0.0.0.0
    QA_ALLOW_UNAUTHENTICATED=true python app.py --host 0.0.0.0   # open to anyone who reaches the port

What it does:

- the log-in is Gradio's own (``auth=`` of ``gr.mount_gradio_app``: a login form, a session cookie,
  a constant-time password compare); the routes of the outer FastAPI app (the document view) are
  put behind the same session by :class:`LoginRequired`, which asks Gradio's own log-in check
  (``GET /gradio_api/login_check``) for each request;
- :func:`check_bind` refuses a non-loopback address without a log-in unless it is waived;
- :class:`TrustedHosts` answers 400 to a Host header it does not know (DNS rebinding);
- :class:`SameSite` answers 403 to a request that would change something (any method but GET,
  HEAD, OPTIONS) sent by a page of another site: its ``Origin`` is not this app (cross-site
  request forgery: a form, an upload or a text/plain body another page makes the browser send);
- :class:`BodyLimit` answers 413 to a body over ``QA_MAX_REQUEST_BYTES``, announced or streamed;
  Gradio's upload route (the document library's, behind the log-in) has ``QA_MAX_UPLOAD_BYTES``
  instead (plus room for the form around the file), and Gradio itself refuses a file over it (413);
- :class:`RefuseUploads` answers 403 on the recording route (the page has no audio input), on
  Gradio's file-serving routes (the page shows no files), and on the upload route too when
  ``QA_MAX_UPLOAD_BYTES`` is 0; :class:`UploadFolderBound` answers 507 once the files sent and not
  yet added reach ``QA_MAX_UPLOAD_FOLDER_BYTES``;
- :func:`protect` turns on Gradio's own check of the paths an event names (only files its upload
  route stored), and the library's box (ui/upload_box.py) refuses any other path or a URL.

- :class:`LoginThrottle` backs off failed log-ins per account and per client address (429).

What it does not do: TLS (put a reverse proxy in front), rate limits other than the log-in's, or
accounts beyond a list of ``user:password`` pairs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ui.errors import CredentialsError, UnprotectedBindError

if TYPE_CHECKING:
    from fastapi import FastAPI
    from gradio.routes import App as GradioApp

    from ui.settings import AppSettings

log = logging.getLogger("app.exposure")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Credentials = list[tuple[str, str]]  # [(user, password), ...], as gr.mount_gradio_app(auth=...) takes it

AUTH_MESSAGE = "Log in to ask the articles."
WILDCARD_ADDRESSES = {"", "0.0.0.0", "::"}  # bound to every interface: no one name to trust
# Gradio 6's routes that store what a client sends as files: the library's upload box uses the
# first; the page has no audio input, so the second is always refused.
UPLOAD_ROUTE = "/gradio_api/upload"
RECORDING_ROUTE = "/gradio_api/process_recording"
UPLOAD_ROUTES = (UPLOAD_ROUTE, RECORDING_ROUTE)
# Gradio's routes that serve files by path or fetch URLs: the page shows no files, so none is
# served (a file a client sent is only ever added by the upload event, never read back).
FILE_ROUTE = "/gradio_api/file="
FILE_ROUTES = (FILE_ROUTE, "/gradio_api/file/", "/gradio_api/proxy=")
FORM_BYTES = 65_536  # room for the multipart form around an uploaded file
GRADIO_LOGIN_CHECK = "/gradio_api/login_check"
MIN_BODY_RATE = 50_000  # bytes a second: a body slower than this is cut once its timeout has passed


# --- credentials


def parse_auth(value: str) -> Credentials:
    """``QA_AUTH``'s pairs: ``"alice:pw1, bob:p:w"`` → ``[("alice", "pw1"), ("bob", "p:w")]``.

    >>> parse_auth("alice:pw1, bob:p:w")
    [('alice', 'pw1'), ('bob', 'p:w')]
    """
    return [
        _pair(entry, f"QA_AUTH, entry {n}") for n, entry in enumerate(value.split(","), 1) if entry.strip()
    ]


def read_auth_file(path: Path) -> Credentials:
    """The ``user:password`` lines of ``path``; ``#`` comments and blank lines are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CredentialsError(f"QA_AUTH_FILE {path} is not UTF-8 text") from None
    except OSError as error:
        raise CredentialsError(f"Cannot read QA_AUTH_FILE {path}: {error.strerror or error}") from None
    pairs = [
        _pair(line, f"QA_AUTH_FILE {path}, line {n}")
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not pairs:
        raise CredentialsError(f"QA_AUTH_FILE {path} holds no 'user:password' line")
    return pairs


def _pair(entry: str, where: str) -> tuple[str, str]:
    """``" alice : pw "`` → ``("alice", "pw")``; a malformed entry is named by ``where``, never shown."""
    user, colon, password = entry.partition(":")
    user, password = user.strip(), password.strip()
    if not colon or not user or not password:
        raise CredentialsError(f"{where}: expected 'user:password' with neither part empty")
    return user, password


def load_credentials(settings: AppSettings) -> Credentials:
    """The log-ins of ``QA_AUTH`` and ``QA_AUTH_FILE`` together; ``[]`` when neither is set."""
    pairs = parse_auth(settings.auth.get_secret_value()) if settings.auth is not None else []
    if settings.auth_file is not None:
        pairs += read_auth_file(settings.auth_file)
    seen: set[str] = set()
    for user, _ in pairs:
        if user in seen:
            raise CredentialsError(f"User {user!r} is given twice in QA_AUTH / QA_AUTH_FILE")
        seen.add(user)
    return pairs


def gradio_options(settings: AppSettings) -> dict[str, Any]:
    """The keyword arguments of ``gr.mount_gradio_app`` that this module decides: the log-in (none
    when no credentials are set) and the largest file Gradio takes, ``QA_MAX_UPLOAD_BYTES``."""
    credentials = load_credentials(settings)
    return {
        "auth": credentials or None,
        "auth_message": AUTH_MESSAGE,
        "max_file_size": settings.max_upload_bytes,
    }


# --- where the app listens


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address only this machine reaches.

    >>> [is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost")]
    [True, True, True, True, True]
    >>> [is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "qa.example.org", "")]
    [False, False, False, False, False]
    """
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: AppSettings) -> None:
    """Refuse to serve on a non-loopback ``host`` with no log-in, unless ``QA_ALLOW_UNAUTHENTICATED``."""
    if is_loopback(host) or load_credentials(settings):
        return
    if not settings.allow_unauthenticated:
        raise UnprotectedBindError(
            f"Refusing to serve on {host} without a log-in: set QA_AUTH=user:password (or QA_AUTH_FILE), "
            "or QA_ALLOW_UNAUTHENTICATED=true to let anyone who reaches the port use the app"
        )
    log.warning("Serving on %s without a log-in (QA_ALLOW_UNAUTHENTICATED): anyone who reaches it can", host)


# --- the Host header


def host_name(header: str) -> str | None:
    """The name of a Host header without its port; ``None`` when it is malformed.

    >>> [host_name(h) for h in ("127.0.0.1:7860", "[::1]:7860", "LocalHost", "a:b", "[::1", "::1")]
    ['127.0.0.1', '::1', 'localhost', None, None, None]
    """
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        name, rest = header[1:end], header[end + 1 :]
        if end < 0 or (rest and not (rest[:1] == ":" and rest[1:].isdigit())):
            return None
        return name or None
    name, colon, port = header.partition(":")
    if colon and not port.isdigit():
        return None
    return name or None


def trusted_hosts(settings: AppSettings, bind_host: str) -> list[str]:
    """``QA_TRUSTED_HOSTS`` and the address the app is bound to (unless it is every interface)."""
    names = [name.strip().lower().removeprefix("[").removesuffix("]") for name in settings.trusted_hosts]
    bound = bind_host.strip().lower().removeprefix("[").removesuffix("]")
    if bound not in WILDCARD_ADDRESSES:
        names.append(bound)
    return list(dict.fromkeys(name for name in names if name))


def host_allowed(name: str | None, trusted: Sequence[str]) -> bool:
    """Whether a Host name is one of ``trusted``; ``*.example.org`` takes subdomains, ``*`` anything.

    >>> host_allowed("qa.example.org", ["*.example.org"]), host_allowed("evil.example", ["localhost"])
    (True, False)
    """
    if "*" in trusted:
        return True
    if name is None:
        return False
    return any(name == t or (t.startswith("*.") and name.endswith(t[1:])) for t in trusted)


async def plain_response(
    send: Send, status: int, text: str, extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Send a whole plain-text response (``extra`` headers added)."""
    body = text.encode("utf-8")
    headers = [
        *extra,
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TrustedHosts:
    """ASGI middleware: 400 to an HTTP request, a closed socket to a websocket, whose Host header
    names none of ``hosts`` (a page of another site that rebound its name to this address)."""

    def __init__(self, app: ASGIApp, hosts: Sequence[str]) -> None:
        self.app, self.hosts = app, list(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            # Two Host headers are refused: servers and proxies disagree on which one counts.
            given = [value.decode("latin-1") for key, value in scope["headers"] if key.lower() == b"host"]
            name = host_name(given[0]) if len(given) == 1 else None
            if not host_allowed(name, self.hosts) or len(given) > 1:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await plain_response(
                        send, 400, "Host header not accepted: add the name to QA_TRUSTED_HOSTS\n"
                    )
                return
        await self.app(scope, receive, send)


def same_site(origin: str, host: str, trusted: Sequence[str]) -> bool:
    """Whether a request with this ``Origin`` header came from this app's own pages: the origin is
    the address the request was sent to (``Host``), or a name in ``trusted`` that is not this
    machine's (behind a proxy that rewrites Host). A loopback origin must match exactly: another
    local server's page is another site. ``null`` (a sandboxed frame, a file) never matches.

    >>> same_site("http://127.0.0.1:7860", "127.0.0.1:7860", ["127.0.0.1"])
    True
    >>> [same_site(o, "127.0.0.1:7860", ["127.0.0.1", "localhost"])
    ...  for o in ("http://evil.example", "http://localhost:8000", "null", "http://127.0.0.1:7860/x")]
    [False, False, False, False]
    >>> same_site("https://qa.example.org", "10.0.0.5:7860", ["qa.example.org"])
    True
    """
    scheme, sep, netloc = origin.strip().lower().partition("://")
    if not sep or scheme not in ("http", "https") or not netloc or "/" in netloc:
        return False
    if netloc == host.strip().lower():
        return True
    name = host_name(netloc)
    return name is not None and not is_loopback(name) and host_allowed(name, [t for t in trusted if t != "*"])


class SameSite:
    """ASGI middleware: 403 to a request that changes something (any method but GET, HEAD and
    OPTIONS) or opens a websocket, when its ``Origin`` is another site's (:func:`same_site`).
    Browsers send ``Origin`` with every such request; clients that are not browsers (Python's,
    curl) send none and pass, as they carry no cookie a page could borrow."""

    SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, app: ASGIApp, hosts: Sequence[str]) -> None:
        self.app, self.hosts = app, list(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket" or (kind == "http" and scope["method"] not in self.SAFE):
            headers = {key.lower(): value.decode("latin-1") for key, value in scope["headers"]}
            origin, host = headers.get(b"origin"), headers.get(b"host", "")
            if origin is not None and not same_site(origin, host, self.hosts):
                log.warning(
                    "Refused a %s request to %s sent by another site (%r)", kind, scope["path"], origin
                )
                if kind == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await plain_response(send, 403, "Refused: this request was sent by another site's page\n")
                return
        await self.app(scope, receive, send)


# --- the request body


class BodyLimit:
    """ASGI middleware: 413 to a request whose body is over ``max_bytes`` (``larger[path]`` for
    the paths given there), at once when its Content-Length says so, else as soon as the bytes read
    pass the limit (a chunked body).

    After a streamed body is refused the app reads a disconnect and whatever it still sends is
    dropped; only the 413 reaches the client.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        larger: dict[str, tuple[int, str]] | None = None,
        timeout: float = 30.0,
    ) -> None:
        """``larger``: path -> (its limit, the setting that names it)."""
        self.app, self.max_bytes, self.larger = app, max_bytes, dict(larger or {})
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, name = self.larger.get(route_path(scope).rstrip("/"), (self.max_bytes, "QA_MAX_REQUEST_BYTES"))
        message = f"Request body over {limit} bytes ({name})\n"
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                await plain_response(send, 400, "Malformed Content-Length\n")
                return
            if int(length) > limit:
                await plain_response(send, 413, message)
                return
        received, refused, started = 0, False, False
        loop = asyncio.get_running_loop()
        # Each piece within the timeout, and the whole at MIN_BODY_RATE at least past it.
        deadline = loop.time() + self.timeout + limit / MIN_BODY_RATE

        async def bounded_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            try:  # a client that announces a body and then sends it slowly is not waited on forever
                remaining = min(deadline - loop.time(), self.timeout)
                event = await asyncio.wait_for(receive(), timeout=max(remaining, 0.001))
            except TimeoutError:
                refused = True
                if not started:
                    await plain_response(send, 408, f"Request body not sent within {self.timeout:g} s\n")
                return {"type": "http.disconnect"}
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await plain_response(send, 413, message)
                    return {"type": "http.disconnect"}
            return event

        async def guarded_send(event: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or event["type"] == "http.response.start"
            await send(event)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except Exception:
            if not refused:  # the app's reaction to the cut body (a ClientDisconnect) is expected
                raise


# --- log-in for the routes Gradio does not guard, and no uploads


def mounted_gradio(app: FastAPI) -> GradioApp:
    """The Gradio app that ``gr.mount_gradio_app`` mounted in ``app``."""
    from gradio.routes import App
    from starlette.routing import Mount

    for route in app.routes:
        if isinstance(route, Mount) and isinstance(route.app, App):
            return route.app
    raise RuntimeError("No Gradio app is mounted in this FastAPI app: call gr.mount_gradio_app first")


def route_path(scope: Scope) -> str:
    """The path the app's router matches: ``scope["path"]`` (percent-decoded) without the root path."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def gradio_login_passes(gradio_app: ASGIApp, scope: Scope) -> bool:
    """Whether Gradio's own log-in check (``GET /gradio_api/login_check``, 200 or 401) passes for
    the session cookie of the request ``scope``: the check of every Gradio route, asked directly."""
    check = {**scope, "method": "GET", "path": GRADIO_LOGIN_CHECK, "raw_path": GRADIO_LOGIN_CHECK.encode()}
    check["query_string"] = b""
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await gradio_app(check, receive, send)
    return status == 200


class LoginRequired:
    """ASGI middleware: 401 to a request for a path under one of ``prefixes`` (``/doc``) that
    Gradio's log-in check refuses; Gradio guards its own routes, not the ones added beside it."""

    def __init__(self, app: ASGIApp, prefixes: Sequence[str], gradio_app: ASGIApp) -> None:
        self.app, self.gradio_app = app, gradio_app
        self.prefixes = [p.rstrip("/") for p in prefixes]

    def guards(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = scope["type"] == "http" and self.guards(route_path(scope))
        if guarded and not await gradio_login_passes(self.gradio_app, scope):
            await plain_response(send, 401, "Log in first: open the app's main page and sign in\n")
            return
        await self.app(scope, receive, send)


class RefuseUploads:
    """ASGI middleware: 403 to every request for the Gradio upload routes ``paths`` and the file
    routes under ``prefixes``, before any of its body is read: routes nothing on the page needs."""

    def __init__(
        self, app: ASGIApp, paths: Sequence[str] = UPLOAD_ROUTES, prefixes: Sequence[str] = FILE_ROUTES
    ) -> None:
        self.app, self.paths, self.prefixes = app, {p.rstrip("/") for p in paths}, tuple(prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = route_path(scope)
            # The router sends "/gradio_api/upload/" on to "/gradio_api/upload" (a redirect): both refused.
            if path.rstrip("/") in self.paths:
                await plain_response(send, 403, "Uploads are off: this app takes no such files\n")
                return
            if path.startswith(self.prefixes):
                await plain_response(send, 403, "Files are not served here: this app shows none\n")
                return
        await self.app(scope, receive, send)


LOGIN_ROUTES = ("/login", "/login/")


class LoginThrottle:
    """ASGI middleware: backs off log-ins that keep failing, per account and per client address.

    The first ``free`` failures of a key cost nothing; each one after locks the key for twice as
    long as the last (1 s, 2 s, 4 s ... up to ``longest``), during which ``POST /login`` answers 429
    with ``Retry-After``, the password unread. A log-in that succeeds clears both keys.
    """

    def __init__(self, app: ASGIApp, free: int = 5, longest: float = 300.0) -> None:
        self.app, self.free, self.longest = app, free, longest
        self.failures: dict[str, tuple[int, float]] = {}  # key -> (failures, locked until)

    def wait(self, keys: Sequence[str], now: float) -> float:
        return max((self.failures.get(k, (0, 0.0))[1] - now for k in keys), default=0.0)

    def failed(self, keys: Sequence[str], now: float) -> None:
        for key in keys:
            count = self.failures.get(key, (0, 0.0))[0] + 1
            lock = min(2.0 ** (count - self.free - 1), self.longest) if count > self.free else 0.0
            self.failures[key] = (count, now + lock)
        if len(self.failures) > 100_000:  # bounded: forget the oldest keys
            for key in list(self.failures)[:50_000]:
                del self.failures[key]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or route_path(scope) not in LOGIN_ROUTES:
            await self.app(scope, receive, send)
            return
        import time
        from urllib.parse import parse_qs

        body, more = b"", True
        while more:  # the form is small: BodyLimit bounds it
            event = await receive()
            if event["type"] != "http.request":
                return
            body, more = body + event.get("body", b""), event.get("more_body", False)
        user = parse_qs(body.decode("utf-8", "replace")).get("username", [""])[0].strip()
        client = (scope.get("client") or ("?", 0))[0]
        keys = [f"user:{user}", f"address:{client}"]
        now = time.monotonic()
        wait = self.wait(keys, now)
        if wait > 0:
            seconds = max(1, round(wait + 0.499))
            await plain_response(
                send,
                429,
                f"Too many failed log-ins: try again in {seconds} s\n",
                [(b"retry-after", str(seconds).encode())],
            )
            return
        status = 0
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, replay, watch)
        if status == 200:
            for key in keys:
                self.failures.pop(key, None)
        elif status in (400, 401, 403):
            log.warning("Failed log-in for %r from %s", user, client)
            self.failed(keys, time.monotonic())


def folder_bytes(folder: Path) -> int:
    """The bytes of the files under ``folder`` (0 when it does not exist)."""
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):  # removed meanwhile
                total += os.lstat(os.path.join(root, name)).st_size
    return total


class UploadFolderBound:
    """ASGI middleware: 507 to an upload that would take Gradio's upload ``folder`` past
    ``max_bytes`` (files sent and not yet added by the upload event, which removes them; the rest
    expire, see ui/layout.py), so a client cannot fill the disk through the upload route."""

    def __init__(self, app: ASGIApp, folder: Path, max_bytes: int) -> None:
        self.app, self.folder, self.max_bytes = app, folder, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and route_path(scope).rstrip("/") == UPLOAD_ROUTE:
            length = dict(scope["headers"]).get(b"content-length", b"0").strip()
            coming = int(length) if length.isdigit() else 0
            if folder_bytes(self.folder) + coming > self.max_bytes:
                log.warning("Upload refused: Gradio's upload folder %s holds its limit", self.folder)
                await plain_response(
                    send, 507, "Too many files are waiting to be added: try again in a few minutes\n"
                )
                return
        await self.app(scope, receive, send)


def protect(app: FastAPI, settings: AppSettings, *, host: str, private: Sequence[str] = ()) -> None:
    """Add the checks to ``app`` (the FastAPI app with the Gradio page mounted). Outermost first:
    the Host check, the refusal of requests other sites send, the body bound (an upload's own), the
    routes of unused uploads refused, and ``private`` path prefixes behind Gradio's log-in when it
    has one."""
    gradio_app = mounted_gradio(app)
    # Gradio checks the paths an event's data names (only files its upload route stored are taken)
    # once launch() has run; a mounted app never runs it, so without this any server path was taken.
    gradio_app.get_blocks().has_launched = True
    login = gradio_app.auth is not None
    if login and private:
        app.add_middleware(LoginRequired, prefixes=private, gradio_app=gradio_app)
    if login:
        app.add_middleware(LoginThrottle, free=settings.login_free_failures)
    uploads = settings.max_upload_bytes > 0
    if uploads:
        folder = Path(gradio_app.uploaded_file_dir)
        app.add_middleware(UploadFolderBound, folder=folder, max_bytes=settings.max_upload_folder_bytes)
    app.add_middleware(RefuseUploads, paths=[RECORDING_ROUTE] if uploads else UPLOAD_ROUTES)
    larger = (
        {UPLOAD_ROUTE: (settings.max_upload_bytes + FORM_BYTES, "QA_MAX_UPLOAD_BYTES")} if uploads else {}
    )
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_request_bytes, larger=larger, timeout=settings.request_body_seconds
    )
    hosts = trusted_hosts(settings, host)
    app.add_middleware(SameSite, hosts=hosts)
    app.add_middleware(TrustedHosts, hosts=hosts)
    log.info(
        "Log-in %s; Host names accepted: %s; request bodies up to %d bytes; uploads %s",
        "required" if login else "off",
        ", ".join(hosts),
        settings.max_request_bytes,
        f"up to {settings.max_upload_bytes} bytes" if uploads else "off",
    )
