"""A multi-instance deployment, for real: nginx in front, server processes behind it, Redis between them.

The module's fixture starts, on free 127.0.0.1 ports:

* a private ``redis-server`` (``tests/redis_server.py``'s :class:`RedisServer`);
* three rweb server *processes* running ``tests/multi_instance_app.py``, each
  ``start_rweb(port, app, workers=1)`` with the same Redis and the same secret
  key: ``one`` and ``two`` (the app at ``/``) and ``three`` (the same board as
  a second site under the base path ``/app``, ``App(root_path="/app")``, on
  the same Redis and topics but with a secret key of its own).  ``one``
  reaches Redis through a :class:`TcpGate`, so that a test can decide when it
  gets Redis back;
* ``nginx`` with the configuration docs/deploy.md explains (written into a
  temporary directory that also holds its pid file, logs and temp paths):
  round robin over ``one`` and ``two`` at ``/``, ``three`` at ``/app/`` with
  the prefix stripped, WebSocket upgrade headers, ``Host`` passed on.

Timings are scaled down: the instances ping a silent socket after 0.5 s (20 s
by default) and nginx closes a tunnel after 2 s without data from upstream
(75 s in the documented configuration).  ``three`` has no heartbeat at all,
to show what nginx does to an idle socket then.

Every wait is bounded; everything is stopped afterwards (SIGTERM, then
SIGKILL).  The tests skip, saying why, without nginx, redis-server or redis-py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import tools
from redis_server import RedisServer, TcpGate, free_port, redis_py_missing, wait_until

from rweb.web.client_script import client_url

HERE = Path(__file__).resolve().parent
APP_MODULE = HERE / "multi_instance_app.py"
NGINX = tools.nginx()
SECRET = "multi-instance-test-secret-0123456789abcdef"  # shared by one and two
MAX_PENDING = 5  # instance one's bound on publishes held while it cannot reach Redis
PING_INTERVAL = 0.5  # the instances' heartbeat (server pings), scaled down from 20 s
PROXY_READ_TIMEOUT = 2  # nginx's idle limit for a tunnel, scaled down from 75 s
START_TIMEOUT = 20.0
STEP = 10.0  # bound on one wait for a message or a state


def missing() -> str | None:
    if NGINX is None:
        return "nginx is not installed (Debian: apt-get install nginx-light)"
    return redis_py_missing()


# -- the nginx configuration -------------------------------------------------------------


def nginx_conf(
    workdir: Path,
    port: int,
    instances: list[int],
    app_instance: int,
    *,
    read_timeout: int = 75,
    tls_port: int | None = None,
) -> str:
    """The deployment's nginx.conf (docs/deploy.md), every path inside ``workdir``, loopback only."""
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in instances)
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    proxy = f"""
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout {read_timeout}s;
            proxy_send_timeout {read_timeout}s;
            proxy_next_upstream error timeout http_503;"""
    tls = ""
    if tls_port is not None:
        # TLS ends here: browsers speak https/wss to nginx, nginx plain http/ws to rweb.
        tls = f"""
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        server_name localhost;
        ssl_certificate {workdir}/cert.pem;
        ssl_certificate_key {workdir}/key.pem;

        location / {{
            proxy_pass http://rweb;{proxy}
        }}
    }}
"""
    return f"""{user}worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log info;

events {{
    worker_connections 256;
}}

http {{
    access_log {workdir}/access.log;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;

    # "Connection: upgrade" for a WebSocket handshake, "close" for anything else.
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}

    upstream rweb {{
{servers}
    }}

    upstream rweb_app {{
        server 127.0.0.1:{app_instance};
    }}

    server {{
        listen 127.0.0.1:{port};
        server_name localhost;

        location / {{
            proxy_pass http://rweb;{proxy}
        }}

        # An app under a base path: /app/x reaches the app as /x; the app renders
        # its links and socket URL with the prefix (App(root_path="/app")).
        location /app/ {{
            proxy_pass http://rweb_app/;{proxy}
        }}

        # The pitfall: $host has no port, so on a non-default port the socket's
        # Origin (which has one) no longer matches Host and rweb refuses it.
        location /host-without-port/ {{
            proxy_pass http://rweb/;{proxy.replace("$http_host", "$host")}
        }}

        # And without "proxy_set_header Host" nginx sends Host: rweb (the upstream's name).
        location /host-not-passed/ {{
            proxy_pass http://rweb/;{proxy.replace("proxy_set_header Host $http_host;", "")}
        }}
    }}
{tls}}}
"""


# -- processes -----------------------------------------------------------------------------


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL; bounded."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def tail(path: Path, n: int = 3000) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-n:]
    return "(no log)"


def http(
    url: str,
    *,
    method: str = "GET",
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
    context: ssl.SSLContext | None = None,
) -> tuple[int, dict[str, list[str]], bytes]:
    """One HTTP request: (status, headers by lower-case name, body); errors are answers too."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=timeout) as response:
            status, msg, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, msg, body = exc.code, exc.headers, exc.read()
    found: dict[str, list[str]] = {}
    for k, v in msg.items():
        found.setdefault(k.lower(), []).append(v)
    return status, found, body


@dataclass
class Instance:
    name: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def state(self) -> dict[str, Any]:
        status, _, body = http(self.url + "/state")
        assert status == 200, body
        result: dict[str, Any] = json.loads(body)
        return result

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    async def until(
        self, pred: Callable[[dict[str, Any]], Any], what: str, timeout: float = STEP
    ) -> None:
        """:meth:`wait` from a coroutine: the polling runs in a thread, the loop reads the sockets."""
        await asyncio.to_thread(self.wait, pred, what, timeout)

    def wait(self, pred: Callable[[dict[str, Any]], Any], what: str, timeout: float = STEP) -> None:
        """Poll ``/state`` until ``pred(state)``; fail saying ``what`` and showing the log."""
        last: list[dict[str, Any]] = []

        def check() -> Any:
            last[:] = [self.state()]
            return pred(last[0])

        if not wait_until(check, timeout, 0.05):
            raise AssertionError(
                f"instance {self.name}: {what} not within {timeout} s; state {last}\n{tail(self.log)}"
            )


@dataclass
class Cluster:
    workdir: Path
    redis: RedisServer
    gate: TcpGate  # instance one's path to Redis
    instances: dict[str, Instance]
    nginx_port: int
    tls_port: int | None = None  # None: no openssl to make a certificate
    nginx: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    def tls_context(self) -> ssl.SSLContext:
        """Trusts the test's self-signed certificate (for 127.0.0.1) only."""
        return ssl.create_default_context(cafile=str(self.workdir / "cert.pem"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.nginx_port}"

    @property
    def origin(self) -> str:
        """What a browser showing a page of the site sends as ``Origin``."""
        return f"http://127.0.0.1:{self.nginx_port}"

    def diagnostics(self) -> str:
        return "\n".join(f"--- {p.name}\n{tail(p, 1500)}" for p in self.logs)


def start_instance(
    workdir: Path, name: str, broker_url: str, secret: str, *extra: str, port: int | None = None
) -> Instance:
    port = port or free_port()
    log = workdir / f"instance-{name}.log"
    env = dict(os.environ, RWEB_SECRET_KEY=secret, PYTHONUNBUFFERED="1")
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(APP_MODULE),
                "--port",
                str(port),
                "--broker",
                broker_url,
                "--instance",
                name,
                "--presence-heartbeat",
                "0.5",
                "--presence-timeout",
                "3",
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    return Instance(name, port, log, proc)


def wait_serving(instance: Instance) -> None:
    def up() -> bool:
        if instance.proc.poll() is not None:
            raise AssertionError(f"instance {instance.name} exited:\n{tail(instance.log)}")
        try:
            return http(instance.url + "/state", timeout=1)[0] == 200
        except OSError:
            return False

    if not wait_until(up, START_TIMEOUT, 0.05):
        raise AssertionError(f"instance {instance.name} did not serve:\n{tail(instance.log)}")
    # Serving means the broker's start() returned: connected, or given up waiting.
    instance.wait(lambda s: s["stats"]["connected"], "connected to Redis")


def make_certificate(workdir: Path) -> bool:
    """A self-signed certificate for 127.0.0.1 (cert.pem, key.pem), if openssl is there."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return False
    done = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(workdir / "key.pem"), "-out", str(workdir / "cert.pem"),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return done.returncode == 0


def start_nginx(workdir: Path, conf: str, port: int) -> subprocess.Popen[bytes]:
    assert NGINX is not None
    (workdir / "nginx.conf").write_text(conf)
    with open(workdir / "nginx.out", "wb") as out:
        proc = subprocess.Popen(
            [NGINX, "-p", str(workdir), "-e", str(workdir / "error.log"),
             "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(
                f"nginx exited: {tail(workdir / 'nginx.out')}\n{tail(workdir / 'error.log')}"
            )
        try:
            return http(f"http://127.0.0.1:{port}/state", timeout=1)[0] == 200
        except OSError:
            return False

    if not wait_until(up, START_TIMEOUT, 0.05):
        stop_process(proc)
        raise AssertionError(f"nginx did not answer: {tail(workdir / 'error.log')}")
    return proc


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="rweb-multi-"))
        stack.callback(shutil.rmtree, workdir, True)
        # nginx's workers (as nobody when the tests run as root) must reach the temp paths.
        workdir.chmod(0o755)
        redis = RedisServer()
        stack.callback(redis.close)
        redis.start()
        gate = TcpGate(redis.port)
        stack.callback(gate.stop)
        instances = {
            "one": start_instance(
                workdir, "one", gate.url, SECRET,
                "--max-pending", str(MAX_PENDING), "--ping-interval", str(PING_INTERVAL),
            ),
            "two": start_instance(
                workdir, "two", redis.url, SECRET, "--ping-interval", str(PING_INTERVAL)
            ),
            # The board again, as a second site under /app (same Redis, same topics), with a
            # key of its own and no heartbeat (--ping-interval 0).
            "three": start_instance(
                workdir, "three", redis.url, SECRET + "-three", "--root-path", "/app",
                "--ping-interval", "0",
            ),
        }
        for instance in instances.values():
            stack.callback(stop_process, instance.proc)
        for instance in instances.values():
            wait_serving(instance)
        nginx_port = free_port()
        tls_port = free_port() if make_certificate(workdir) else None
        conf = nginx_conf(
            workdir,
            nginx_port,
            [instances["one"].port, instances["two"].port],
            instances["three"].port,
            read_timeout=PROXY_READ_TIMEOUT,
            tls_port=tls_port,
        )
        nginx = start_nginx(workdir, conf, nginx_port)
        stack.callback(stop_process, nginx)
        logs = [i.log for i in instances.values()] + [workdir / "error.log"]
        yield Cluster(workdir, redis, gate, instances, nginx_port, tls_port, nginx, logs)


# -- WebSocket clients ---------------------------------------------------------------------


def part(msg: dict[str, Any], name: str) -> str:
    """Component ``name`` of an init (``c``), or its patch in a reply or push (``d``), as JSON."""
    found = (msg.get("c") if msg.get("t") == "init" else msg.get("d")) or {}
    return json.dumps(found[name]) if name in found else ""


def gaps_shown(msg: dict[str, Any]) -> int:
    """The gap count the ``gaps`` component shows in this message (-1: not in it)."""
    match = re.search(r"gaps (\d+)", part(msg, "gaps"))
    return int(match.group(1)) if match else -1


def members(msg: dict[str, Any]) -> int:
    """How many users the ``who`` component lists in this message (-1: not in it)."""
    who = part(msg, "who")
    return who.count("user ") if who else -1


class Sock:
    """A WebSocket session; every message it got is kept, every wait is bounded."""

    def __init__(self, ws: Any, init: dict[str, Any]) -> None:
        self.ws = ws
        self.init = init
        self.history: list[dict[str, Any]] = [init]

    @property
    def instance(self) -> str:
        match = re.search(r"instance (\w+)", part(self.init, "me"))
        return match.group(1) if match else "?"

    async def recv(self, timeout: float = STEP) -> dict[str, Any]:
        data = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(data, str)
        msg: dict[str, Any] = json.loads(data)
        self.history.append(msg)
        return msg

    async def until(
        self, pred: Callable[[dict[str, Any]], Any], what: str, timeout: float = STEP
    ) -> dict[str, Any]:
        """The first message (already received or to come) for which ``pred`` holds."""
        for msg in self.history:
            if pred(msg):
                return msg
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            left = end - loop.time()
            if left <= 0:
                raise AssertionError(
                    f"{self.instance}: no message with {what}; got {self.history[-5:]}"
                )
            try:
                msg = await self.recv(left)
            except TimeoutError:
                continue
            if pred(msg):
                return msg

    async def send(self, action: str, **params: Any) -> None:
        await self.ws.send(json.dumps({"action": action, "params": params}))

    async def reply(self, action: str, **params: Any) -> dict[str, Any]:
        """Send an action and return its reply (pushes before it are kept in the history)."""
        await self.send(action, **params)
        while True:
            msg = await self.recv()
            if msg["t"] == "r":
                return msg

    def log_has(self, text: str) -> Callable[[dict[str, Any]], bool]:
        return lambda m: text in part(m, "log")


async def join(
    stack: contextlib.AsyncExitStack,
    url: str,
    origin: str | None = None,
    context: ssl.SSLContext | None = None,
) -> Sock:
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    ws = await stack.enter_async_context(
        connect(
            url,
            ssl=context,
            origin=None if origin is None else Origin(origin),
            proxy=None,
            compression=None,
            open_timeout=STEP,
            close_timeout=2,
            ping_interval=None,
        )
    )
    data = await asyncio.wait_for(ws.recv(), STEP)
    init = json.loads(data)
    assert init["t"] == "init", init
    return Sock(ws, init)


async def join_via_nginx(
    stack: contextlib.AsyncExitStack, cluster: Cluster, want: str, path: str = "/ws"
) -> Sock:
    """Open sockets through nginx (round robin) until one lands on instance ``want``."""
    for _ in range(6):
        sock = await join(stack, cluster.ws + path, cluster.origin)
        if sock.instance == want:
            return sock
        await sock.ws.close()
    raise AssertionError(f"nginx never sent a socket to instance {want}")


def run(coro: Any, timeout: float = 60.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


# -- (c) the page and the socket through nginx ------------------------------------------------


def test_the_page_loads_through_nginx_with_the_socket_meta(cluster: Cluster) -> None:
    served: set[str] = set()
    for _ in range(4):  # round robin: both instances answer
        status, headers, body = http(cluster.url + "/")
        page = body.decode()
        assert status == 200, page
        assert headers["content-type"][0].startswith("text/html")
        assert '<meta name="rweb-root" content="">' in page
        assert '<meta name="rweb-socket" content="/ws">' in page
        assert f'<script src="{client_url()}" defer>' in page
        match = re.search(r'data-rc="me">instance (\w+)<', page)
        assert match is not None, page
        served.add(match.group(1))
    assert served == {"one", "two"}, cluster.diagnostics()
    status, headers, body = http(cluster.url + "/_rweb/rweb.js")
    assert status == 200 and headers["content-type"][0].startswith("text/javascript")
    assert b"rweb-socket" in body


def test_the_socket_works_through_nginx_with_the_sites_origin(cluster: Cluster) -> None:
    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            # Origin = the site nginx serves; nginx passes Host on, so the default check accepts it.
            for name in ("one", "two"):
                sock = await join_via_nginx(stack, cluster, name)
                reply = await sock.reply("inc")
                assert reply["d"]["count"] == {"0": "1"}, reply
                reply = await sock.reply("inc")
                assert reply["d"]["count"] == {"0": "2"}, reply

    run(main())


def test_another_sites_origin_is_refused_through_nginx(cluster: Cluster) -> None:
    from websockets.exceptions import InvalidStatus

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            with pytest.raises(InvalidStatus) as refused:
                await join(stack, cluster.ws + "/ws", "http://evil.example")
            assert refused.value.response.status_code == 403
            # Host without the port (nginx's $host): the site's own Origin no longer matches.
            with pytest.raises(InvalidStatus) as refused:
                await join(stack, cluster.ws + "/host-without-port/ws", cluster.origin)
            assert refused.value.response.status_code == 403
            with pytest.raises(InvalidStatus) as refused:
                await join(stack, cluster.ws + "/host-not-passed/ws", cluster.origin)
            assert refused.value.response.status_code == 403

    run(main())
    log = cluster.instances["one"].log_text() + cluster.instances["two"].log_text()
    assert "(Host '127.0.0.1')" in log and "(Host 'rweb')" in log


def test_an_app_under_a_base_path_behind_nginx(cluster: Cluster) -> None:
    status, _, body = http(cluster.url + "/app/")
    page = body.decode()
    assert status == 200, page
    assert '<meta name="rweb-root" content="/app">' in page
    assert '<meta name="rweb-socket" content="/app/ws">' in page
    assert f'<script src="/app{client_url()}" defer>' in page
    assert '<span data-rc="me">instance three</span>' in page
    status, _, body = http(cluster.url + "/app/_rweb/rweb.js")
    assert status == 200 and b"rweb-socket" in body

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            # As the browser client joins: {root}/ws?url=<the page's URL within the app>.
            url = cluster.ws + "/app/ws?url=" + quote("/", safe="")
            sock = await join(stack, url, cluster.origin)
            assert sock.instance == "three"
            reply = await sock.reply("inc")
            assert reply["d"]["count"] == {"0": "1"}, reply
            # Same Redis, same topics: a message published on one reaches this site's session.
            other = await join(stack, cluster.instances["one"].url.replace("http", "ws") + "/ws")
            await other.send("say", text="to-the-app-under-a-prefix")
            await sock.until(sock.log_has("to-the-app-under-a-prefix"), "the message from one")

    run(main())


def test_tls_ends_at_nginx(cluster: Cluster) -> None:
    if cluster.tls_port is None:
        pytest.skip("openssl is not installed: no certificate for the TLS test")
    site = f"https://127.0.0.1:{cluster.tls_port}"
    context = cluster.tls_context()
    status, _, body = http(site + "/", context=context)
    assert status == 200 and b'<meta name="rweb-socket" content="/ws">' in body

    async def main() -> dict[str, Any]:
        async with contextlib.AsyncExitStack() as stack:
            # The page's origin is https://...: its host and port are still the Host nginx passes.
            sock = await join(stack, f"wss://127.0.0.1:{cluster.tls_port}/ws", site, context)
            assert (await sock.reply("inc"))["d"]["count"] == {"0": "1"}
            return await sock.reply("login", name="tls")

    reply = run(main())
    [(_, effect)] = reply["fx"]
    # The browser redeems the token through nginx, on whichever instance: a Secure cookie.
    status, headers, _ = http(
        site + effect["url"], method="POST", data=effect["token"].encode(), context=context
    )
    assert status == 204
    [cookie] = headers["set-cookie"]
    assert cookie.startswith("user=tls;") and "Secure" in cookie and "HttpOnly" in cookie


def test_the_heartbeat_keeps_an_idle_socket_open_through_nginx(cluster: Cluster) -> None:
    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            kept = await join_via_nginx(stack, cluster, "one")
            # Instance three runs without a heartbeat: nginx ends its idle tunnel.
            idle = await join(stack, cluster.ws + "/app/ws", cluster.origin)
            await asyncio.sleep(PROXY_READ_TIMEOUT + 1.5)
            reply = await kept.reply("inc")
            assert reply["d"]["count"] == {"0": "1"}
            from websockets.exceptions import ConnectionClosed

            with pytest.raises(ConnectionClosed):
                await idle.reply("inc")

    run(main())


# -- (a) two instances, one deployment ----------------------------------------------------------


def test_a_write_on_one_instance_reaches_the_other_and_presence_shows_both(cluster: Cluster) -> None:
    one, two = cluster.instances["one"], cluster.instances["two"]

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            a = await join_via_nginx(stack, cluster, "one")
            b = await join_via_nginx(stack, cluster, "two")
            await a.until(lambda m: members(m) == 2, "both users in a's presence")
            await b.until(lambda m: members(m) == 2, "both users in b's presence")
            await a.send("say", text="hello-from-a")
            await b.until(b.log_has("hello-from-a"), "a's message")
            await b.send("say", text="hello-from-b")
            await a.until(a.log_has("hello-from-a hello-from-b"), "b's message after a's")
            # A record shared with app.share: written on one, pushed on two.
            await a.send("banner", text="hello-everyone")
            await b.until(lambda m: "banner hello-everyone" in part(m, "banner"), "the banner")
            # Sockets straight to each instance's port join the same deployment.
            c = await join(stack, two.url.replace("http", "ws") + "/ws")
            assert c.instance == "two"
            await a.until(lambda m: members(m) == 3, "three users in a's presence")
            for instance in (one, two):
                await instance.until(lambda s: len(s["presence"]) == 3, "three members in presence")
                names = sorted(m["name"] for m in instance.state()["presence"].values())
                assert [n.split("-")[0] for n in names] == ["user one", "user two", "user two"]
        # Closed tabs leave at once, everywhere.
        for instance in (one, two):
            await instance.until(lambda s: s["presence"] == {}, "everybody gone")

    run(main())


def test_a_signed_cookie_token_from_one_instance_is_redeemed_by_the_other(cluster: Cluster) -> None:
    one, two, three = (cluster.instances[n] for n in ("one", "two", "three"))

    async def main() -> dict[str, Any]:
        async with contextlib.AsyncExitStack() as stack:
            a = await join(stack, one.url.replace("http", "ws") + "/ws")
            return await a.reply("login", name="ada")

    reply = run(main())
    [(kind, effect)] = reply["fx"]
    assert kind == "cookie" and effect["url"] == "/_rweb/cookie"
    token = effect["token"].encode()
    # Another site's key does not open it...
    assert http(three.url + "/_rweb/cookie", method="POST", data=token)[0] == 403
    # ... the same deployment's other instance (same RWEB_SECRET_KEY) does.
    status, headers, _ = http(two.url + "/_rweb/cookie", method="POST", data=token)
    assert status == 204
    assert any(c.startswith("user=ada;") and "HttpOnly" in c for c in headers["set-cookie"])
    assert http(two.url + "/_rweb/cookie", method="POST", data=token)[0] == 403  # once
    assert http(one.url + "/_rweb/cookie", method="POST", data=token)[0] == 403  # once across instances (broker)


# -- (b) Redis goes away and comes back ------------------------------------------------------


def test_a_redis_restart_holds_publishes_and_both_instances_carry_on(cluster: Cluster) -> None:
    one, two = cluster.instances["one"], cluster.instances["two"]
    redis, gate = cluster.redis, cluster.gate

    def news_gaps(state: dict[str, Any]) -> int:
        return int(state["gaps"].get("news", 0))

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            a = await join_via_nginx(stack, cluster, "one")
            b = await join_via_nginx(stack, cluster, "two")
            await b.until(lambda m: members(m) == 2, "both users in b's presence")
            base_one, base_two = one.state(), two.state()

            # -- Redis stops: both instances notice.
            await asyncio.to_thread(redis.stop)
            for instance in (one, two):
                await instance.until(lambda s: not s["stats"]["connected"], "Redis lost")
            # Instance one is kept off Redis until two has re-subscribed (below): one's
            # held messages, sent the moment it reconnects, would otherwise reach Redis
            # before two listens again, and two could only report a gap.
            gate.close()
            for i in (1, 2, 3):
                await a.send("say", text=f"held-{i}")
            # Local subscribers have them at once; the copies for other processes are held.
            await a.until(a.log_has("held-1 held-2 held-3"), "the held messages, locally")
            await one.until(lambda s: s["stats"]["pending"] == 3, "three held publishes")

            # -- Redis is back, on the same port, empty.
            await asyncio.to_thread(redis.start)
            await two.until(
                lambda s: s["stats"]["connected"] and news_gaps(s) > news_gaps(base_two),
                "two re-subscribed (its subscribers told of a possible gap)",
            )
            shown = sum(base_two["gaps"].values())
            await b.until(lambda m: gaps_shown(m) > shown, "the gap shown to b's user")
            gate.reopen()
            await one.until(
                lambda s: s["stats"]["connected"]
                and s["stats"]["pending"] == 0
                and news_gaps(s) > news_gaps(base_one),
                "one reconnected, its held publishes sent, re-subscribed",
            )
            await b.until(b.log_has("held-1 held-2 held-3"), "the held messages, in order, on two")
            # Both carry on: new messages cross both ways.
            await b.send("say", text="after-restart-b")
            await a.until(a.log_has("held-3 after-restart-b"), "a new message from two")
            await a.send("say", text="after-restart-a")
            await b.until(b.log_has("after-restart-b after-restart-a"), "a new message from one")
            # Presence is rebuilt in the new (empty) Redis by both instances' heartbeats.
            await b.until(lambda m: members(m) == 2, "both users after the restart")
            assert await asyncio.to_thread(
                wait_until, lambda: redis.command("HLEN", "rweb:p:room") == 2, STEP
            )
            s1, s2 = one.state(), two.state()
            assert s1["stats"]["reconnects"] > base_one["stats"]["reconnects"]
            assert s2["stats"]["reconnects"] > base_two["stats"]["reconnects"]
            assert s1["stats"]["dropped"] == base_one["stats"]["dropped"] == 0  # nothing lost
            held = [m["text"] for m in s2["received"] if m["text"].startswith("held-")]
            assert held == ["held-1", "held-2", "held-3"]
            log = one.log_text()
            assert "lost the connection" in log
            assert re.search(
                r"reconnected to \S+ after [\d.]+ s; 3 held publishes to send, 0 dropped", log
            ), log

            # -- Past the bound: one is cut off again (Redis stays up for two).
            gate.close()
            await one.until(lambda s: not s["stats"]["connected"], "one cut off")
            for i in range(1, MAX_PENDING + 4):
                await a.send("say", text=f"drop-{i}")
            await a.until(a.log_has("drop-7 drop-8"), "the messages, locally")
            # The three oldest are dropped, and it is said: stats, the on_drop hook, the log.
            await one.until(
                lambda s: s["stats"]["dropped"] == 3
                and s["drops"] == {"news": 3}
                and s["stats"]["pending"] == MAX_PENDING,
                "3 drops reported",
            )
            # One log line a second at most: a burst of drops may be told in more than one.
            told = re.findall(
                r"dropped (\d+) publishes that could not be sent \(queue bound 5; news: \d+\)",
                one.log_text(),
            )
            assert sum(map(int, told)) == 3, one.log_text()
            gaps_before = news_gaps(two.state())
            gate.reopen()
            # Two gets the five newest, in order, then a gap marker: its subscribers hear of the loss.
            await b.until(b.log_has("drop-4 drop-5 drop-6 drop-7 drop-8"), "the newest held ones")
            await two.until(lambda s: news_gaps(s) == gaps_before + 1, "the gap marker from one")
            dropped = [m["text"] for m in two.state()["received"] if m["text"].startswith("drop-")]
            assert dropped == [f"drop-{i}" for i in range(4, MAX_PENDING + 4)]
            assert not any("drop-3" in part(m, "log") for m in b.history)
            assert re.search(r"5 held publishes to send, 3 dropped during the outage", one.log_text())
            await a.send("say", text="the-end")
            await b.until(b.log_has("the-end"), "a message after the second outage")

    run(main(), 90.0)
