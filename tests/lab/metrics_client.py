"""Scraping tandemd's /metrics from inside a namespace, and reading the
Prometheus text format (0.0.4) it returns. Shared by the lab tests."""
from __future__ import annotations

import json
import re

from lab import PYTHON

METRICS_PORT = 9464
METRICS_CONFIG = f"metrics-listen = 127.0.0.1:{METRICS_PORT}\n"

# Runs inside the namespace: one raw HTTP exchange, the reply as JSON.
_EXCHANGE = r"""
import json, socket, sys
port, raw = int(sys.argv[1]), sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(raw)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
lines = head.decode("latin-1").split("\r\n")
print(json.dumps({"status": int(lines[0].split()[1]), "headers": lines[1:],
                  "body": body.decode()}))
"""

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def http(ns, request: str, port: int = METRICS_PORT) -> dict:
    """Sends `request` (raw HTTP) to 127.0.0.1:port in namespace `ns`;
    returns {"status", "headers", "body"}."""
    esc = request.encode("unicode_escape").decode()
    p = ns.run([PYTHON, "-c", _EXCHANGE, str(port), esc], timeout=10)
    return json.loads(p.stdout)


def parse_exposition(text: str) -> tuple[dict[str, float], dict[str, str], list[str]]:
    """(samples by 'name{labels}', family types, lines that do not parse or
    come before their family's TYPE line)."""
    types: dict[str, str] = {}
    samples: dict[str, float] = {}
    bad: list[str] = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m or m.group(1) not in types:
            bad.append(line)
            continue
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples, types, bad


def scrape(ns, port: int = METRICS_PORT) -> tuple[dict, dict[str, float], dict[str, str], list[str]]:
    """GET /metrics: (reply, samples, types, bad lines)."""
    r = http(ns, "GET /metrics HTTP/1.1\r\nHost: node\r\n\r\n", port)
    samples, types, bad = parse_exposition(r["body"]) if r["status"] == 200 else ({}, {}, [])
    return r, samples, types, bad
