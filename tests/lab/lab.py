"""Network-namespace lab: names, namespaces, veths, processes, control socket.

Everything a lab creates (namespaces, processes, temporary directories, DPDK
runtime directories) is pushed on one process-wide cleanup stack. The stack
runs, newest first, when a lab's `with` block ends, when the process exits
(atexit), and when SIGTERM, SIGINT or SIGHUP arrives (the handler raises
LabInterrupted, which unwinds through the `with` blocks). Children are started
with PR_SET_PDEATHSIG so that even a SIGKILLed harness leaves no process
behind; namespaces left by a SIGKILLed run are removed by the next run
(cleanup_stale) or by `/usr/bin/python3 tests/lab/lab.py --cleanup-stale`.

Every wait has a timeout, and arm_watchdog() bounds a whole test.

Run with /usr/bin/python3 (Debian's python with zmq, msgpack and scapy).
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import json
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


PYTHON = "/usr/bin/python3"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TRAFFIC = str(HERE / "traffic.py")
# The GWLB emulator (docs/gwlb-emulator.md), the GENEVE labs' load balancer.
GWLB_EMULATOR = str(REPO / "tools" / "gwlb-emulator")
DEFAULT_TANDEMD = str(REPO / "build" / "release" / "src" / "daemon" / "tandemd")

# Every name this harness gives a namespace, interface or DPDK file prefix
# starts with NAME_STEM followed by the creating process id.
NAME_STEM = "tl"
DPDK_PREFIX_STEM = "tandem-lab-"
MAX_IFNAME = 15


# --- errors ---------------------------------------------------------------------


class LabError(Exception):
    """The lab could not be built or a tool misbehaved (not a test verdict)."""


class LabTimeout(LabError):
    """A bounded wait ran out."""


class NodeFailed(LabError):
    """The node under test died or stopped answering: a verdict on the node,
    not a harness problem."""


class LabSkip(Exception):
    """This machine cannot run the lab (not root, a tool missing)."""


class LabInterrupted(BaseException):
    """SIGTERM / SIGINT / SIGHUP arrived; unwinds like KeyboardInterrupt."""


# --- cleanup stack and signals ----------------------------------------------------------


class _CleanupStack:
    """LIFO of cleanup actions; each runs at most once, failures are reported
    and do not stop the others."""

    def __init__(self) -> None:
        self._items: list[tuple[int, str, object]] = []
        self._ids = itertools.count(1)
        self.running = False

    def push(self, what: str, fn) -> int:
        token = next(self._ids)
        self._items.append((token, what, fn))
        return token

    def discard(self, token: int) -> None:
        """Forgets an action whose resource was released normally."""
        self._items = [i for i in self._items if i[0] != token]

    def run_one(self, token: int) -> None:
        for i, item in enumerate(self._items):
            if item[0] == token:
                del self._items[i]
                self._call(item)
                return

    def run_all(self) -> None:
        if self.running:
            return
        self.running = True
        try:
            while self._items:
                self._call(self._items.pop())
        finally:
            self.running = False

    @staticmethod
    def _call(item) -> None:
        _, what, fn = item
        try:
            fn()
        except BaseException as e:  # cleanup must go on whatever happens
            print(f"lab: cleanup of {what} failed: {e!r}", file=sys.stderr)


cleanup = _CleanupStack()
atexit.register(cleanup.run_all)

_handlers_installed = False


def _on_signal(signum, _frame):
    if cleanup.running:
        return  # let the cleanup finish; it is bounded
    raise LabInterrupted(signal.Signals(signum).name)


def _on_alarm(_signum, _frame):
    if cleanup.running:
        return
    raise LabTimeout("the test's overall deadline passed")


def install_signal_handlers() -> None:
    """SIGTERM/SIGINT/SIGHUP unwind the stack (cleanup runs); SIGALRM is the
    watchdog. Idempotent; call from the main thread."""
    global _handlers_installed
    if _handlers_installed:
        return
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    signal.signal(signal.SIGALRM, _on_alarm)
    _handlers_installed = True


def arm_watchdog(seconds: float) -> None:
    """Raises LabTimeout in the main thread after `seconds` (0 disarms)."""
    install_signal_handlers()
    signal.setitimer(signal.ITIMER_REAL, max(0.0, seconds))


class Deadline:
    """A point in time; remaining() and cap() keep each wait inside it."""

    def __init__(self, seconds: float, what: str = "deadline") -> None:
        self.what = what
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def cap(self, seconds: float) -> float:
        """min(seconds, remaining); raises LabTimeout when nothing is left."""
        left = self.remaining()
        if left <= 0:
            raise LabTimeout(f"{self.what} passed")
        return min(seconds, left)


# --- commands and processes ---------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent(sig: int = signal.SIGKILL):
    def preexec() -> None:
        _libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    return preexec


def run(argv: list[str], timeout: float = 15.0, check: bool = True,
        input: str | None = None) -> subprocess.CompletedProcess:
    """Runs a command to completion (killed after `timeout`); output captured."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                           stdin=None if input is not None else subprocess.DEVNULL,
                           preexec_fn=_die_with_parent())
    except subprocess.TimeoutExpired:
        raise LabTimeout(f"`{shlex.join(argv)}` did not finish in {timeout:.1f} s") from None
    except FileNotFoundError:
        raise LabError(f"`{argv[0]}` not found") from None
    if check and p.returncode != 0:
        raise LabError(f"`{shlex.join(argv)}` failed (exit {p.returncode}): "
                       f"{(p.stderr or p.stdout).strip()}")
    return p


class Process:
    """A long-running child (daemon, server, sniffer) killed on every exit path.

    stdout is a pipe read line by line (read_line / read_json) unless
    `log_path` is given, in which case stdout and stderr both go there.
    """

    def __init__(self, name: str, argv: list[str], log_path: str | None = None,
                 death_signal: int = signal.SIGKILL) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._buf = b""
        if log_path:
            self._out = open(log_path, "wb")
            self._err = self._out
        else:
            self._out = subprocess.PIPE
            self._err = tempfile.TemporaryFile()
        try:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                          stderr=self._err,
                                          preexec_fn=_die_with_parent(death_signal))
        except FileNotFoundError:
            self._close_files()
            raise LabError(f"{name}: `{argv[0]}` not found") from None
        self.pid = self.popen.pid
        self._token = cleanup.push(f"process {name} (pid {self.pid})", self.kill)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def send_signal(self, sig: int) -> None:
        if self.alive():
            self.popen.send_signal(sig)

    def read_line(self, timeout: float) -> str:
        """The next stdout line; LabTimeout if none within `timeout`,
        LabError if the process ends first."""
        end = time.monotonic() + timeout
        fd = self.popen.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buf:
                left = end - time.monotonic()
                if left <= 0:
                    raise LabTimeout(f"{self.name}: no output within {timeout:.1f} s")
                if not sel.select(left):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    try:
                        code = self.popen.wait(2)
                    except subprocess.TimeoutExpired:
                        code = "unknown: closed its stdout"
                    raise LabError(f"{self.name} exited (code {code}) before writing a "
                                   f"line: {self.stderr_text()[-2000:]}")
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def read_json(self, timeout: float) -> dict:
        line = self.read_line(timeout)
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            raise LabError(f"{self.name}: expected JSON, got {line[:300]!r}") from None

    def stderr_text(self) -> str:
        """What the process wrote on stderr so far (or its log's tail)."""
        if self.log_path:
            return self.log_tail()
        try:
            self._err.seek(0)
            return self._err.read().decode(errors="replace")
        except (ValueError, OSError):
            return ""

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 65536))
            text = f.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise LabTimeout(f"{self.name} (pid {self.pid}) still running after "
                             f"{timeout:.1f} s") from None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Sends `sig`, waits up to `timeout`, then SIGKILL. Returns the exit
        code (negative: killed by that signal)."""
        if self.alive():
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._release()
        return self.popen.returncode

    def kill(self) -> None:
        if self.alive():
            self.popen.kill()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._release()

    def _release(self) -> None:
        cleanup.discard(self._token)
        if self.log_path:
            self._close_files()

    def _close_files(self) -> None:
        if self.log_path and not self._out.closed:
            self._out.close()


# --- names -------------------------------------------------------------------------------

_lab_seq = itertools.count()


def unique_prefix() -> str:
    """tl<pid><seq>: unique among concurrent runs (pid) and labs of one run
    (seq, letters, so the pid can be read back); short enough that prefix + 3
    characters is a valid interface name."""
    n = next(_lab_seq)
    seq = ""
    while True:
        seq = "abcdefghijklmnopqrstuvwxyz"[n % 26] + seq
        n //= 26
        if n == 0:
            break
    prefix = f"{NAME_STEM}{os.getpid()}{seq}"
    if len(prefix) + 3 > MAX_IFNAME:
        raise LabError(f"name prefix {prefix} too long for interface names")
    return prefix


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_STALE_NS = re.compile(rf"^{NAME_STEM}(\d+)[a-z]+-(cli|fw|fwa|fwb|fw\d+|crt|srt|srv|gw|sw|plr|t\d+)$")
_STALE_DPDK = re.compile(rf"^{DPDK_PREFIX_STEM}(\d+)-")
_STALE_TMP = re.compile(rf"^tandem-lab-{NAME_STEM}(\d+)[a-z]+-")


def cleanup_stale(verbose: bool = False) -> list[str]:
    """Deletes lab namespaces, DPDK runtime dirs and work directories whose
    creating process is gone (left by a run that was SIGKILLed). Never
    touches a live run's."""
    removed = []
    p = run(["ip", "netns", "list"], check=False, timeout=10)
    for line in p.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = _STALE_NS.match(name)
        if m and not _pid_alive(int(m.group(1))):
            Namespace(name, created=True).delete()
            removed.append(f"netns {name}")
    dpdk_root = Path("/var/run/dpdk")
    if dpdk_root.is_dir():
        for d in dpdk_root.iterdir():
            m = _STALE_DPDK.match(d.name)
            if m and not _pid_alive(int(m.group(1))):
                shutil.rmtree(d, ignore_errors=True)
                removed.append(f"dpdk runtime {d}")
    tmp = Path(tempfile.gettempdir())
    for d in tmp.glob("tandem-lab-*"):
        m = _STALE_TMP.match(d.name)
        if m and d.is_dir() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(f"directory {d}")
    if verbose:
        for r in removed:
            print(f"lab: removed stale {r}")
    return removed


# --- namespaces and links ---------------------------------------------------------------


class Namespace:
    """A network namespace this run created; deleted (with every process still
    inside it, which can only be ours) on cleanup."""

    def __init__(self, name: str, created: bool = False) -> None:
        self.name = name
        self._token = None
        self.created = created

    def create(self) -> "Namespace":
        run(["ip", "netns", "add", self.name])
        self.created = True
        self._token = cleanup.push(f"netns {self.name}", self.delete)
        self.run(["ip", "link", "set", "lo", "up"])
        # No IPv6 at all: no router/neighbour solicitations, so every frame
        # the node sees comes from a tool the test runs (exact accounting).
        for key in ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"):
            self.sysctl(key, "1", required=False)
        return self

    def argv(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: list[str], timeout: float = 15.0, check: bool = True,
            input: str | None = None) -> subprocess.CompletedProcess:
        return run(self.argv(argv), timeout=timeout, check=check, input=input)

    def sysctl(self, key: str, value: str, required: bool = True) -> bool:
        p = self.run(["sysctl", "-q", "-w", f"{key}={value}"], check=required)
        return p.returncode == 0

    def spawn(self, name: str, argv: list[str], log_path: str | None = None,
              death_signal: int = signal.SIGKILL) -> Process:
        return Process(name, self.argv(argv), log_path=log_path, death_signal=death_signal)

    def pids(self) -> list[int]:
        p = run(["ip", "netns", "pids", self.name], check=False, timeout=10)
        return [int(x) for x in p.stdout.split() if x.isdigit()]

    def delete(self) -> None:
        if not self.created:
            return
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        run(["ip", "netns", "del", self.name], check=False, timeout=15)
        self.created = False
        if self._token is not None:
            cleanup.discard(self._token)


def add_veth(ns_a: Namespace, name_a: str, ns_b: Namespace, name_b: str) -> None:
    """Creates a veth pair with each end directly inside its namespace (the
    host namespace never holds either end)."""
    for n in (name_a, name_b):
        if len(n) > MAX_IFNAME:
            raise LabError(f"interface name {n} is longer than {MAX_IFNAME}")
    run(["ip", "link", "add", name_a, "netns", ns_a.name, "type", "veth",
         "peer", "name", name_b, "netns", ns_b.name])


def set_offloads(ns: Namespace, iface: str, **features: bool) -> None:
    """ethtool -K, e.g. set_offloads(ns, "eth0", tx=False, gro=False)."""
    args = []
    for k, v in features.items():
        args += [k, "on" if v else "off"]
    ns.run(["ethtool", "-K", iface, *args])


def link_info(ns: Namespace, iface: str) -> dict:
    p = run(["ip", "-n", ns.name, "-j", "-s", "link", "show", "dev", iface], timeout=10)
    return json.loads(p.stdout)[0]


def link_stats(ns: Namespace, iface: str) -> dict[str, int]:
    """rx/tx packets and bytes of one interface (kernel's view)."""
    s = link_info(ns, iface)["stats64"]
    return {"rx_packets": s["rx"]["packets"], "rx_bytes": s["rx"]["bytes"],
            "rx_dropped": s["rx"]["dropped"], "tx_packets": s["tx"]["packets"],
            "tx_bytes": s["tx"]["bytes"], "tx_dropped": s["tx"]["dropped"]}


def link_mac(ns: Namespace, iface: str) -> str:
    return link_info(ns, iface)["address"]


# --- control socket ----------------------------------------------------------------------


class ControlError(LabError):
    """The daemon answered with ok=false, or with something unreadable."""


class ControlClient:
    """Requests to tandemd's control socket: ZeroMQ REQ over ipc://PATH,
    JSON {"v":1,"command":...}. One REQ socket per request, so a lost reply
    never wedges the next request."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.endpoint = "ipc://" + socket_path

    def request(self, command: str, timeout: float = 2.0, **args) -> dict:
        """Returns the reply's "result"; LabTimeout when nothing answers,
        ControlError when the daemon says ok=false."""
        import zmq

        ctx = zmq.Context.instance()
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDTIMEO, int(timeout * 1000))
        try:
            s.connect(self.endpoint)
            # Arguments travel in "args" (src/proto/control_protocol.h); the
            # top-level copy is kept for daemons that read them there.
            s.send(json.dumps({"v": 1, "command": command, **args, "args": args}).encode())
            if not s.poll(int(timeout * 1000), zmq.POLLIN):
                raise LabTimeout(f"control socket {self.socket_path}: no answer to "
                                 f"'{command}' within {timeout:.1f} s")
            raw = s.recv()
        except zmq.ZMQError as e:
            raise ControlError(f"control socket {self.socket_path}: {e}") from None
        finally:
            s.close(0)
        reply = _decode_reply(raw)
        if not reply.get("ok", False):
            raise ControlError(f"'{command}' failed: {reply.get('error', reply)}")
        return reply.get("result", {})

    def counters(self, timeout: float = 2.0) -> dict[str, int]:
        """`show counters` (all of them, zeros included) flattened: dataplane
        counters by their own name, every other group as GROUP.NAME."""
        return flatten_counters(self.request("show counters", timeout=timeout, all=True))


def _decode_reply(raw: bytes) -> dict:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    try:
        import msgpack
        return msgpack.unpackb(raw, raw=False)
    except Exception:
        raise ControlError(f"unreadable control reply: {raw[:200]!r}") from None


def flatten_counters(result: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for group, values in result.items():
        if not isinstance(values, dict):
            continue
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int):
                continue
            out[name if group == "dataplane" else f"{group}.{name}"] = value
    return out


# --- environment checks -------------------------------------------------------------

def require_lab_environment(tools: tuple[str, ...] = ("ip", "ethtool")) -> None:
    """LabSkip unless running as root with the given tools on PATH."""
    if os.geteuid() != 0:
        raise LabSkip("the namespace lab needs root (ip netns)")
    for t in tools:
        if shutil.which(t) is None:
            raise LabSkip(f"`{t}` is not installed")


def make_workdir(prefix: str) -> str:
    d = tempfile.mkdtemp(prefix=f"tandem-lab-{prefix}-")
    cleanup.push(f"directory {d}", lambda: shutil.rmtree(d, ignore_errors=True))
    return d


# --- the inline topology ------------------------------------------------------------


@dataclass(frozen=True)
class Addressing:
    """Client and server share one subnet: the node is invisible at L3."""
    client_ip: str = "10.77.0.1"
    server_ip: str = "10.77.0.2"
    prefixlen: int = 24


@dataclass
class Snapshot:
    """Frames the two endpoints have sent, and the node's counters (None when
    the node reports none), taken when the wire was quiet."""
    frames_sent: int
    frames_received: int
    counters: dict[str, int] | None
    settled: bool


class InlineLab:
    """client ns -- veth -- node ns -- veth -- server ns, one IPv4 subnet.

    The node namespace holds two ports, `inside` (facing the client) and
    `outside` (facing the server), and whatever Node object set_node() puts
    there (tandemd, a kernel bridge). The lab outlives its nodes, so one lab
    can run several node implementations in turn on the same wires.

    Offloads: the endpoints send with tx checksum offload off (a frame that
    leaves through af_packet must carry a real checksum); the node's ports
    have tx/rx checksum, TSO, GSO and GRO off so the node sees real frames.
    """

    def __init__(self, addressing: Addressing = Addressing(), log=None) -> None:
        self.addr = addressing
        self.prefix = unique_prefix()
        self.client = Namespace(f"{self.prefix}-cli")
        self.node_ns = Namespace(f"{self.prefix}-fw")
        self.server = Namespace(f"{self.prefix}-srv")
        self.client_if = self.prefix + "c0"
        self.server_if = self.prefix + "s0"
        self.inside_if = self.prefix + "ni"
        self.outside_if = self.prefix + "no"
        self.node = None
        self.workdir = ""
        self.client_mac = self.server_mac = ""
        self._services: dict[str, Process] = {}
        self.log = log or (lambda msg: print(msg, flush=True))

    # zones -> node-side interfaces, in the order tandemd's config lists them
    @property
    def zone_ports(self) -> dict[str, str]:
        return {"outside": self.outside_if, "inside": self.inside_if}

    def __enter__(self) -> "InlineLab":
        install_signal_handlers()
        try:
            self.build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def build(self) -> None:
        cleanup_stale()
        self.workdir = make_workdir(self.prefix)
        for ns in (self.client, self.node_ns, self.server):
            ns.create()
        add_veth(self.client, self.client_if, self.node_ns, self.inside_if)
        add_veth(self.server, self.server_if, self.node_ns, self.outside_if)
        for ns, iface, ip in ((self.client, self.client_if, self.addr.client_ip),
                              (self.server, self.server_if, self.addr.server_ip)):
            ns.run(["ip", "addr", "add", f"{ip}/{self.addr.prefixlen}", "dev", iface])
            set_offloads(ns, iface, tx=False)
            ns.run(["ip", "link", "set", iface, "up"])
            # ICMP errors are part of what the tests count: no rate limit.
            ns.sysctl("net.ipv4.icmp_ratelimit", "0", required=False)
        for iface in (self.inside_if, self.outside_if):
            set_offloads(self.node_ns, iface, tx=False, rx=False, tso=False, gso=False, gro=False)
            self.node_ns.run(["ip", "link", "set", iface, "up"])
        self.client_mac = link_mac(self.client, self.client_if)
        self.server_mac = link_mac(self.server, self.server_if)
        self._wait_links_up(5.0)
        self.log(f"lab {self.prefix}: {self.client.name} [{self.client_if} "
                 f"{self.addr.client_ip}] -- [{self.inside_if}] {self.node_ns.name} "
                 f"[{self.outside_if}] -- [{self.server_if} {self.addr.server_ip}] "
                 f"{self.server.name}")

    def links(self) -> tuple:
        """(namespace, interface) of every link the lab builds."""
        return ((self.client, self.client_if), (self.server, self.server_if),
                (self.node_ns, self.inside_if), (self.node_ns, self.outside_if))

    def _wait_links_up(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        pairs = self.links()
        while True:
            down = [i for ns, i in pairs if link_info(ns, i).get("operstate") not in ("UP",)]
            if not down:
                return
            if time.monotonic() > end:
                raise LabTimeout(f"links not up after {timeout} s: {down}")
            time.sleep(0.05)

    # --- node -----------------------------------------------------------------

    def set_node(self, node) -> None:
        """Stops the current node (if any) and starts `node` in the node ns."""
        if self.node is not None:
            self.stop_node()
        node.start(self)
        self.node = node

    def stop_node(self) -> dict:
        """Stops the node; returns what its stop() reports (e.g. exit code)."""
        node, self.node = self.node, None
        return node.stop() if node is not None else {}

    # --- endpoint services ----------------------------------------------------------

    def namespace(self, where: str) -> Namespace:
        """The namespace a service or tool runs in: "client" or "server"
        (topologies with more namespaces extend this)."""
        return self.client if where == "client" else self.server

    def start_service(self, name: str, where: str, args: list[str],
                      timeout: float = 10.0) -> dict:
        """Starts a long-running traffic.py tool (e.g. `serve`) in the client
        or server namespace and waits for its ready line."""
        ns = self.namespace(where)
        proc = ns.spawn(f"{name} in {ns.name}", [PYTHON, TRAFFIC, *args])
        self._services[name] = proc
        ready = proc.read_json(timeout)
        if ready.get("event") != "ready":
            raise LabError(f"{name}: expected a ready line, got {ready}")
        return ready

    def service(self, name: str) -> Process:
        return self._services[name]

    def service_stats(self, name: str, timeout: float = 5.0) -> dict:
        """Current statistics of a `serve` process (it answers SIGUSR1)."""
        proc = self._services[name]
        if not proc.alive():
            raise LabError(f"{name} exited: {proc.stderr_text()[-1000:]}")
        proc.send_signal(signal.SIGUSR1)
        while True:
            msg = proc.read_json(timeout)
            if msg.get("event") == "stats":
                return msg

    def stop_service(self, name: str, timeout: float = 5.0) -> dict:
        proc = self._services.pop(name)
        proc.send_signal(signal.SIGTERM)
        final = {}
        try:
            while final.get("event") != "stopped":
                final = proc.read_json(timeout)
        except LabError:
            pass
        proc.stop(timeout=timeout)
        return final

    def tool(self, where: str, args: list[str], timeout: float) -> dict:
        """Runs a traffic.py tool to completion in the client or server
        namespace; returns the JSON object it prints last. Gives up early
        (NodeFailed) if the node dies meanwhile."""
        ns = self.namespace(where)
        argv = ns.argv([PYTHON, TRAFFIC, *args])
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=_die_with_parent())
        token = cleanup.push(f"tool {args[0]} (pid {p.pid})", p.kill)
        end = time.monotonic() + timeout
        try:
            while True:
                try:
                    out, err = p.communicate(timeout=max(0.01, min(0.5, end - time.monotonic())))
                    break
                except subprocess.TimeoutExpired:
                    self.check_node()
                    if time.monotonic() >= end:
                        raise LabTimeout(f"`{shlex.join(argv)}` did not finish in "
                                         f"{timeout:.1f} s") from None
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(5)
            cleanup.discard(token)
        lines = [l for l in out.splitlines() if l.strip()]
        if p.returncode != 0 or not lines:
            raise LabError(f"traffic.py {args[0]} in {ns.name} failed (exit {p.returncode}): "
                           f"{err.strip()[-2000:]}")
        try:
            return json.loads(lines[-1])
        except json.JSONDecodeError:
            raise LabError(f"traffic.py {args[0]}: unreadable result {lines[-1][:300]!r}") from None

    def netstat(self, where: str) -> dict[str, int]:
        """TCP counters of one namespace (/proc/net/snmp and netstat: each
        namespace has its own): Tcp* and TcpExt* by nstat's names."""
        ns = self.namespace(where)
        out: dict[str, int] = {}
        for path in ("/proc/net/snmp", "/proc/net/netstat"):
            text = ns.run(["cat", path]).stdout.splitlines()
            for head, vals in zip(text[0::2], text[1::2]):
                hk, *names = head.split()
                vk, *values = vals.split()
                if hk != vk or hk.rstrip(":") not in ("Tcp", "TcpExt"):
                    continue
                for n, v in zip(names, values):
                    try:
                        out[hk.rstrip(":") + n] = int(v)
                    except ValueError:
                        pass
        return out

    def check_node(self) -> None:
        """NodeFailed if the node has died."""
        if self.node is not None and hasattr(self.node, "check_alive"):
            self.node.check_alive()

    # --- accounting -------------------------------------------------------------

    def endpoint_frames(self) -> tuple[int, int]:
        """(sent, received) by the client and server interfaces together:
        every frame that can reach the node, and every frame it delivered."""
        c = link_stats(self.client, self.client_if)
        s = link_stats(self.server, self.server_if)
        return c["tx_packets"] + s["tx_packets"], c["rx_packets"] + s["rx_packets"]

    def snapshot(self, timeout: float = 5.0, quiet: float = 0.3) -> Snapshot:
        """Waits until neither the endpoints nor the node have moved for
        `quiet` seconds (at most `timeout`), then reads both."""
        end = time.monotonic() + timeout
        last = None
        stable_since = time.monotonic()
        while True:
            frames = self.endpoint_frames()
            self.check_node()
            counters = self.node.counters() if self.node is not None else None
            frames_after = self.endpoint_frames()
            state = (frames, frames_after,
                     None if counters is None else counters.get("rx_packets"))
            now = time.monotonic()
            if state != last or frames != frames_after:
                last, stable_since = state, now
            elif now - stable_since >= quiet:
                return Snapshot(*frames_after, counters, True)
            if now > end:
                return Snapshot(*frames_after, counters, False)
            time.sleep(0.05)

    def close(self) -> None:
        """Stops the node and services, deletes the namespaces and the work
        directory. Safe to call more than once."""
        if self.node is not None:
            try:
                result = self.stop_node()
                code = result.get("exit_code")
                if code not in (None, 0):
                    self.log(f"lab: node exited with code {code}")
            except BaseException as e:
                self.log(f"lab: stopping the node failed: {e!r}")
        for name in list(self._services):
            self._services.pop(name).kill()
        for ns in (self.client, self.node_ns, self.server):
            ns.delete()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="lab housekeeping")
    ap.add_argument("--cleanup-stale", action="store_true",
                    help="remove namespaces and DPDK runtime dirs of dead lab runs")
    a = ap.parse_args()
    if a.cleanup_stale:
        got = cleanup_stale(verbose=True)
        print(f"lab: {len(got)} stale object(s) removed")
    else:
        ap.print_help()
