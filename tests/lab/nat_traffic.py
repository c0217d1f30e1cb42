"""Traffic tools of the address translation lab (test_nat.py), run by
traffic.py inside the lab's namespaces:

  nat-serve    a TCP echo server that remembers which source address:port
               each connection came from, and whether two connections at the
               same time ever came from the same one (a translation given
               twice); prints its tally on SIGTERM;
  nat-clients  TCP connections to one server from several source addresses
               in turn, a line each, echoed; counts what came back.
"""
from __future__ import annotations

import asyncio
import json
import signal
import sys


def emit(obj: dict) -> None:
    print(json.dumps(obj, sort_keys=True), flush=True)


def cmd_nat_serve(a) -> int:
    return asyncio.run(_serve(a))


async def _serve(a) -> int:
    open_now: dict[tuple[str, int], int] = {}
    tally = {"accepted": 0, "echoed": 0, "sources": {}, "shared_at_once": 0}
    stop = asyncio.Event()

    async def handle(reader, writer):
        peer = writer.get_extra_info("peername")[:2]
        tally["accepted"] += 1
        tally["sources"][peer[0]] = tally["sources"].get(peer[0], 0) + 1
        if open_now.get(peer, 0):
            tally["shared_at_once"] += 1
        open_now[peer] = open_now.get(peer, 0) + 1
        try:
            line = await asyncio.wait_for(reader.readline(), a.io_timeout)
            writer.write(line)
            await writer.drain()
            tally["echoed"] += 1
            await asyncio.wait_for(reader.read(), a.hold)  # until the client closes
        except (asyncio.TimeoutError, OSError):
            pass
        finally:
            open_now[peer] -= 1
            writer.close()

    server = await asyncio.start_server(handle, "0.0.0.0", a.port, backlog=1024)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    emit({"event": "ready", "port": a.port})
    await stop.wait()
    server.close()
    emit({"event": "stopped", "tool": "nat-serve", **tally})
    return 0


def cmd_nat_clients(a) -> int:
    return asyncio.run(_clients(a))


async def _clients(a) -> int:
    sources = a.sources.split(",")
    counts = {"attempted": 0, "ok": 0, "failed": 0, "errors": {}}
    sem = asyncio.Semaphore(a.concurrency)
    held: list = []

    async def one(i: int) -> None:
        async with sem:
            counts["attempted"] += 1
            src = sources[i % len(sources)]
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(a.dst, a.port, local_addr=(src, 0)), a.timeout)
                msg = f"hello {i} from {src}\n".encode()
                writer.write(msg)
                await writer.drain()
                back = await asyncio.wait_for(reader.readline(), a.timeout)
                if back == msg:
                    counts["ok"] += 1
                else:
                    counts["failed"] += 1
                if a.hold:
                    held.append(writer)
                else:
                    writer.close()
            except (asyncio.TimeoutError, OSError) as e:
                counts["failed"] += 1
                name = type(e).__name__
                counts["errors"][name] = counts["errors"].get(name, 0) + 1

    await asyncio.gather(*(one(i) for i in range(a.count)))
    if a.hold:
        # Open now: a lab that runs this as a service may look at them.
        emit({"event": "ready", "held": len(held)})
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await asyncio.wait_for(stop.wait(), a.hold)
        except asyncio.TimeoutError:
            pass
        for w in held:
            w.close()
    emit({"event": "stopped", "tool": "nat-clients", **counts})
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("nat-serve")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--io-timeout", type=float, default=5.0)
    p.add_argument("--hold", type=float, default=30.0,
                   help="seconds a connection may stay open after its echo")
    p.set_defaults(fn=cmd_nat_serve)
    p = sub.add_parser("nat-clients")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sources", required=True, help="comma-separated source addresses")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--timeout", type=float, default=3.0)
    p.add_argument("--hold", type=float, default=0.0,
                   help="keep every connection open this long after its echo (or until "
                        "SIGTERM), saying so with a ready line")
    p.set_defaults(fn=cmd_nat_clients)


if __name__ == "__main__":
    sys.exit("run through traffic.py")
