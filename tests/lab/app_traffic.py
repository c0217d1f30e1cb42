"""Application traffic for the application-identity labs, on real sockets:
TLS (Python's ssl, certificates of a local CA the test makes), HTTP/1.1
requests with a chosen Host, DNS queries for a chosen name.

    app-serve    TLS echo, HTTP and DNS listeners in one process
    tls-connect  N TLS connections asking for one server name, each echoing
    tls-hold     one TLS connection, held open until SIGTERM
    tls-long     long-lived TLS connections over several names, live/broken per name
    tls-late     TCP connections now, their TLS handshakes on a signal
    http-get     N HTTP requests naming one Host
    dns-query    N DNS queries for one name
    make-certs   a CA and a server certificate for the given names (files)

Clients print one JSON object of counted outcomes; `app-serve` prints a
ready line, and a final line with what it served on SIGTERM.
"""
from __future__ import annotations

import datetime
import json
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


# --- certificates --------------------------------------------------------------------


def cmd_make_certs(a) -> int:
    """A CA (ca.pem) and a server key and certificate (server.key,
    server.pem) for every name in --names, in --dir."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tandem lab CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = a.names.split(",")
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    with open(f"{a.dir}/ca.pem", "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(f"{a.dir}/server.pem", "wb") as f:
        f.write(cert.public_bytes(pem))
    with open(f"{a.dir}/server.key", "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    emit({"tool": "make-certs", "names": names})
    return 0


# --- servers ---------------------------------------------------------------------------


class Served:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts = {"tls": 0, "tls_names": {}, "http": 0, "http_hosts": {}, "dns": 0,
                       "dns_names": {}, "tls_reset": 0}

    def reset(self) -> None:
        """A TLS handshake the client's side reset (a `reset` rule's RST)."""
        with self.lock:
            self.counts["tls_reset"] += 1

    def add(self, kind: str, name: str) -> None:
        with self.lock:
            self.counts[kind] += 1
            names = self.counts[kind + ("_names" if kind != "http" else "_hosts")]
            names[name] = names.get(name, 0) + 1


def tls_server(port: int, cert: str, key: str, served: Served) -> socketserver.BaseServer:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    # The name the client asked for, as the server saw it.
    ctx.sni_callback = lambda sock, name, _ctx: setattr(sock, "lab_sni", name or "")

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(10.0)
            try:
                with ctx.wrap_socket(self.request, server_side=True) as tls:
                    data = tls.recv(4096)
                    served.add("tls", getattr(tls, "lab_sni", ""))
                    tls.settimeout(None)  # long-lived clients come back when they like
                    while data:  # echo until the client closes
                        tls.sendall(data)
                        data = tls.recv(4096)
            except ConnectionResetError:
                served.reset()
            except (OSError, ssl.SSLError):
                pass

    return _threaded(socketserver.TCPServer, port, Handler)


def http_server(port: int, served: Served) -> socketserver.BaseServer:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(10.0)
            try:
                host = ""
                while True:
                    line = self.rfile.readline(4096)
                    if not line or line in (b"\r\n", b"\n"):
                        break
                    if line.lower().startswith(b"host:"):
                        host = line[5:].strip().decode("ascii", "replace")
                served.add("http", host)
                body = f"hello {host}\n".encode()
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                                 b"Connection: close\r\n\r\n" % len(body) + body)
            except OSError:
                pass

    return _threaded(socketserver.TCPServer, port, Handler)


def dns_name(msg: bytes) -> str:
    labels, at = [], 12
    while at < len(msg) and msg[at] != 0:
        n = msg[at]
        labels.append(msg[at + 1:at + 1 + n].decode("ascii", "replace"))
        at += 1 + n
    return ".".join(labels)


def dns_server(port: int, served: Served) -> socketserver.BaseServer:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            if len(data) < 12:
                return
            name = dns_name(data)
            served.add("dns", name)
            qend = data.index(b"\0", 12) + 5
            # The question back, and one A record 192.0.2.1 pointing at it.
            answer = (data[:2] + b"\x81\x80" + data[4:6] + b"\x00\x01\x00\x00\x00\x00"
                      + data[12:qend] + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04"
                      + bytes([192, 0, 2, 1]))
            sock.sendto(answer, self.client_address)

    return _threaded(socketserver.UDPServer, port, Handler)


def _threaded(base, port: int, handler) -> socketserver.BaseServer:
    class Server(socketserver.ThreadingMixIn, base):
        allow_reuse_address = True
        daemon_threads = True

    server = Server(("0.0.0.0", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def cmd_app_serve(a) -> int:
    served = Served()
    servers = [tls_server(a.tls_port, a.cert, a.key, served)]
    if a.http_port:
        servers.append(http_server(a.http_port, served))
    if a.dns_port:
        servers.append(dns_server(a.dns_port, served))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    emit({"event": "ready", "tls": a.tls_port, "http": a.http_port, "dns": a.dns_port})
    stop.wait()
    for s in servers:
        s.shutdown()
    with served.lock:
        emit({"event": "stopped", "tool": "app-serve", **served.counts})
    return 0


# --- clients ---------------------------------------------------------------------------


def _outcome(counts: dict, key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def cmd_tls_connect(a) -> int:
    """Connections one after the other: handshake asking for --name, send a
    line, read it back. `ok` counts echoed ones; a cut connection ends in
    `timeout` (the ClientHello was dropped) or `reset`. `slowest_s`: the
    longest any connection took to end, however it ended."""
    ctx = ssl.create_default_context(cafile=a.ca)
    counts: dict = {"attempted": 0, "ok": 0, "slowest_s": 0.0}
    for i in range(a.count):
        counts["attempted"] += 1
        started = time.monotonic()
        try:
            with socket.create_connection((a.dst, a.port), timeout=a.timeout) as raw:
                raw.settimeout(a.timeout)
                with ctx.wrap_socket(raw, server_hostname=a.name) as tls:
                    msg = f"hello {a.name} {i}\n".encode()
                    tls.sendall(msg)
                    back = b""
                    while len(back) < len(msg):
                        chunk = tls.recv(4096)
                        if not chunk:
                            break
                        back += chunk
                    _outcome(counts, "ok" if back == msg else "mismatch")
        except (socket.timeout, TimeoutError):
            _outcome(counts, "timeout")
        except ConnectionResetError:
            _outcome(counts, "reset")
        except (OSError, ssl.SSLError) as e:
            _outcome(counts, type(e).__name__)
        counts["slowest_s"] = round(max(counts["slowest_s"], time.monotonic() - started), 3)
    emit({"tool": "tls-connect", "name": a.name, **counts})
    return 0


def cmd_tls_hold(a) -> int:
    """One TLS connection asking for --name, echoed once, then held open
    until SIGTERM (for the tables to show it)."""
    ctx = ssl.create_default_context(cafile=a.ca)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with socket.create_connection((a.dst, a.port), timeout=5.0) as raw:
        with ctx.wrap_socket(raw, server_hostname=a.name) as tls:
            tls.sendall(b"hold\n")
            echoed = tls.recv(16) == b"hold\n"
            emit({"event": "ready", "name": a.name, "echoed": echoed})
            stop.wait()
    emit({"event": "stopped", "tool": "tls-hold"})
    return 0


class LongLived:
    """One long-lived TLS connection: a request every `interval`, its echo
    within `io_timeout`, until stopped; the first failure breaks it."""

    def __init__(self, a, name: str, ctx: ssl.SSLContext, stop: threading.Event) -> None:
        self.a, self.name, self.ctx, self.stop = a, name, ctx, stop
        self.tls = None
        self.broken = ""
        self.answered = 0

    def connect(self) -> bool:
        try:
            raw = socket.create_connection((self.a.dst, self.a.port), timeout=self.a.io_timeout)
            raw.settimeout(self.a.io_timeout)
            self.tls = self.ctx.wrap_socket(raw, server_hostname=self.name)
            return self.exchange()
        except (OSError, ssl.SSLError) as e:
            self.broken = type(e).__name__
            return False

    def exchange(self) -> bool:
        msg = f"{self.name} {self.answered}\n".encode()
        try:
            self.tls.sendall(msg)
            back = b""
            while len(back) < len(msg):
                chunk = self.tls.recv(4096)
                if not chunk:
                    raise ConnectionResetError("closed")
                back += chunk
            if back != msg:
                self.broken = "mismatch"
                return False
            self.answered += 1
            return True
        except (OSError, ssl.SSLError) as e:
            self.broken = type(e).__name__
            return False

    def run(self) -> None:
        while not self.stop.wait(self.a.interval):
            if not self.exchange():
                return


def _tally(conns: list) -> dict:
    live: dict = {}
    broken: dict = {}
    for c in conns:
        d = broken if c.broken else live
        d[c.name] = d.get(c.name, 0) + 1
    return {"live": live, "broken": broken,
            "reasons": sorted({c.broken for c in conns if c.broken})}


def cmd_tls_long(a) -> int:
    """--conns connections over the names of --names in turn, each asking a
    request every --interval. Ready once every one has answered; a stats line
    on SIGUSR1 and the final one on SIGTERM: live and broken per name."""
    ctx = ssl.create_default_context(cafile=a.ca)
    stop = threading.Event()
    names = a.names.split(",")
    conns = [LongLived(a, names[i % len(names)], ctx, stop) for i in range(a.conns)]
    for c in conns:
        c.connect()
    threads = [threading.Thread(target=c.run, daemon=True) for c in conns if not c.broken]
    for t in threads:
        t.start()
    wake = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: (stop.set(), wake.set()))
    signal.signal(signal.SIGUSR1, lambda *_: wake.set())
    emit({"event": "ready", **_tally(conns)})
    while not stop.is_set():
        wake.wait()
        wake.clear()
        if not stop.is_set():
            emit({"event": "stats", **_tally(conns)})
    for t in threads:
        t.join(timeout=a.io_timeout + 1)
    emit({"event": "stopped", "tool": "tls-long", **_tally(conns)})
    return 0


def cmd_tls_late(a) -> int:
    """--conns TCP connections opened now, their TLS handshakes (asking for
    --name) and one echo each only on SIGUSR2: sessions whose first payload
    comes later. Prints ready, then the handshakes' outcome."""
    ctx = ssl.create_default_context(cafile=a.ca)
    raws = [socket.create_connection((a.dst, a.port), timeout=a.io_timeout)
            for _ in range(a.conns)]
    go, stop = threading.Event(), threading.Event()
    signal.signal(signal.SIGUSR2, lambda *_: go.set())
    signal.signal(signal.SIGTERM, lambda *_: (go.set(), stop.set()))
    emit({"event": "ready", "connected": len(raws)})
    go.wait()
    ok = 0
    reasons: dict = {}
    held = []
    for raw in raws:
        try:
            raw.settimeout(a.io_timeout)
            tls = ctx.wrap_socket(raw, server_hostname=a.name)
            held.append(tls)  # open until SIGTERM, for the tables to show
            tls.sendall(b"late\n")
            ok += tls.recv(16) == b"late\n"
        except (OSError, ssl.SSLError) as e:
            reasons[type(e).__name__] = reasons.get(type(e).__name__, 0) + 1
    emit({"event": "done", "tool": "tls-late", "ok": ok, "conns": len(raws), "failed": reasons})
    stop.wait()
    for tls in held:
        tls.close()
    emit({"event": "stopped", "tool": "tls-late"})
    return 0


def cmd_http_get(a) -> int:
    counts: dict = {"attempted": 0, "ok": 0}
    for _ in range(a.count):
        counts["attempted"] += 1
        try:
            with socket.create_connection((a.dst, a.port), timeout=a.timeout) as s:
                s.settimeout(a.timeout)
                s.sendall(f"GET / HTTP/1.1\r\nHost: {a.host}\r\nUser-Agent: lab\r\n\r\n".encode())
                reply = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
                ok = reply.startswith(b"HTTP/1.1 200") and a.host.encode() in reply
                _outcome(counts, "ok" if ok else "bad_reply")
        except (socket.timeout, TimeoutError):
            _outcome(counts, "timeout")
        except ConnectionResetError:
            _outcome(counts, "reset")
        except OSError as e:
            _outcome(counts, type(e).__name__)
    emit({"tool": "http-get", "host": a.host, **counts})
    return 0


def cmd_dns_query(a) -> int:
    counts: dict = {"attempted": 0, "answered": 0}
    for i in range(a.count):
        counts["attempted"] += 1
        q = struct.pack("!HHHHHH", 0x1000 + i, 0x0100, 1, 0, 0, 0)
        for label in a.name.split("."):
            q += bytes([len(label)]) + label.encode()
        q += b"\0\x00\x01\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(a.timeout)
            s.sendto(q, (a.dst, a.port))
            try:
                data, _ = s.recvfrom(4096)
                if data[:2] == q[:2]:
                    counts["answered"] += 1
            except (socket.timeout, TimeoutError):
                pass
        time.sleep(0.01)
    emit({"tool": "dns-query", "name": a.name, **counts})
    return 0


def _client(sub, command: str, fn, tls_name: str = "", port: int = 0):
    """A client command's parser with where it connects (--dst, --port;
    `port` its default, 0: required) and, for TLS, the server name(s) it
    asks for (`tls_name`: --name or --names) and the CA it trusts."""
    p = sub.add_parser(command)
    p.add_argument("--dst", required=True)
    if port:
        p.add_argument("--port", type=int, default=port)
    else:
        p.add_argument("--port", type=int, required=True)
    if tls_name == "--names":
        p.add_argument("--names", required=True,
                       help="comma-separated; connections take them in turn")
    elif tls_name:
        p.add_argument(tls_name, required=True)
    if tls_name:
        p.add_argument("--ca", required=True)
    p.set_defaults(fn=fn)
    return p


def add_commands(sub) -> None:
    p = sub.add_parser("make-certs")
    p.add_argument("--dir", required=True)
    p.add_argument("--names", required=True, help="comma-separated server names")
    p.set_defaults(fn=cmd_make_certs)
    p = sub.add_parser("app-serve")
    p.add_argument("--tls-port", type=int, required=True)
    p.add_argument("--http-port", type=int, default=0, help="0: no HTTP listener")
    p.add_argument("--dns-port", type=int, default=0, help="0: no DNS listener")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.set_defaults(fn=cmd_app_serve)
    p = _client(sub, "tls-connect", cmd_tls_connect, tls_name="--name")
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--timeout", type=float, default=2.0)
    p = _client(sub, "tls-long", cmd_tls_long, tls_name="--names")
    p.add_argument("--conns", type=int, default=100)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--io-timeout", type=float, default=10.0)
    p = _client(sub, "tls-late", cmd_tls_late, tls_name="--name")
    p.add_argument("--conns", type=int, default=10)
    p.add_argument("--io-timeout", type=float, default=10.0)
    _client(sub, "tls-hold", cmd_tls_hold, tls_name="--name")
    p = _client(sub, "http-get", cmd_http_get)
    p.add_argument("--host", required=True)
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--timeout", type=float, default=2.0)
    p = _client(sub, "dns-query", cmd_dns_query, port=53)
    p.add_argument("--name", required=True)
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--timeout", type=float, default=1.0)
