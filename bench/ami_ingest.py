"""AMI ingest benchmark: events/s over loopback TCP, our reader beside panoramisk and two baselines.

A separate process (this file with ``--serve``) accepts one connection at a time, sends the banner,
answers the Login, then streams the event body ``repeats`` times and waits for the client to close.
Readers measured in the same run, each on a fresh connection, ``--repeats`` times:

  a_split        split-only floor: read the socket and split frames on CRLFCRLF (nothing parsed)
  a_parse        bare parse-only baseline: what a minimal reader does -- frames split, decoded, split
                 into lines and each line into a (name, value) pair; no validation, no lookup, no state
  b_panoramisk   panoramisk 1.4 end to end: its Manager + AMIProtocol, one '*' event callback
  c_reader       our AmiReader + CallTracker in a bare asyncio.Protocol
  d_client       our AmiClient (queue, on_event) + CallTracker: the daemon's real path
  d_client_x2    two server processes (two "Asterisk" streams) into two AmiClient + CallTracker pairs
                 in this one process: the total events/s one daemon core could ingest from two PBXs

Sources: ``recorded`` = every recorded event once, then the f2 burst (50 callers) repeated until
``--events``; ``synthetic`` = the b1 call cloned with fresh Uniqueids and a Chinese caller name,
20 calls interleaved at a time.

    .venv/bin/python bench/ami_ingest.py [--events 1000000] [--repeats 3] [--json out.json]

Every reader runs in this process on one core (asyncio, no threads); the server is another process.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from asterisk.ami.client import AmiClient
from asterisk.ami.codec import END, AmiReader, Message
from asterisk.ami.tracker import CallTracker
from asterisk.ami.transcripts import load_transcript, transcript_paths

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import command, machine, spread, write_json

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
USER, SECRET = "bench", "bench-secret"


# ---------------------------------------------------------------- payloads


def recorded_events(name_prefix: str = "") -> list[bytes]:
    out = []
    for path in transcript_paths():
        if path.name.startswith(name_prefix):
            for b in load_transcript(path).received:
                if b.wire.startswith(b"Event:"):
                    out.append(b.wire)
    return out


def build_payload(source: str, events: int) -> tuple[bytes, bytes, int]:
    """(head sent once, body sent `repeats` times, repeats)."""
    if source == "recorded":
        head = b"".join(recorded_events())
        body_events = recorded_events("f2-")
    else:
        template = recorded_events("b1-")
        calls = []
        for k in range(20):
            tag = f"9{k:07d}".encode()
            calls.append(
                [e.replace(b"17958248", tag).replace(b"Alice Caller", "张三 市民".encode()) for e in template]
            )
        head = b""
        body_events = [e for group in itertools.zip_longest(*calls) for e in group if e is not None]
    repeats = max(1, -(-events // len(body_events)))
    return head, b"".join(body_events), repeats


def count_events(data: bytes) -> int:
    return data.count(END)


# ---------------------------------------------------------------- server process


def serve(source: str, events: int) -> None:
    head, body, repeats = build_payload(source, events)
    srv = socket.create_server(("127.0.0.1", 0))
    print(srv.getsockname()[1], count_events(head) + count_events(body) * repeats, flush=True)
    while True:
        conn, _ = srv.accept()
        with conn:
            conn.sendall(BANNER)
            got = b""
            while END not in got:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                got += chunk
            action_id = b"0"
            for line in got.split(b"\r\n"):
                if line.lower().startswith(b"actionid:"):
                    action_id = line.split(b":", 1)[1].strip()
            ok = b"Response: Success\r\nActionID: " + action_id + b"\r\nMessage: Authenticated\r\n\r\n"
            conn.sendall(ok)
            conn.sendall(head)
            for _ in range(repeats):
                conn.sendall(body)
            try:
                while conn.recv(65536):
                    pass  # until the client hangs up
            except OSError:
                pass


# ---------------------------------------------------------------- readers


class _Counting(asyncio.Protocol):
    def __init__(self, expected: int, done: asyncio.Future[float]) -> None:
        self.expected = expected
        self.done = done
        self.count = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"Action: Login\r\nUsername: bench\r\nSecret: x\r\nActionID: 1\r\n\r\n")

    def _progress(self, n: int) -> None:
        self.count += n
        if self.count >= self.expected and not self.done.done():
            self.done.set_result(time.perf_counter())


class SplitOnly(_Counting):
    """Baseline: frames split, nothing parsed."""

    buf = b""

    def data_received(self, data: bytes) -> None:
        parts = (self.buf + data).split(END)
        self.buf = parts.pop()
        self._progress(len(parts))


class ParseOnly(_Counting):
    """Baseline: a minimal reader. Yields each message's header list; nothing else."""

    buf = b""
    last: list[tuple[str, str]] | None = None

    def data_received(self, data: bytes) -> None:
        parts = (self.buf + data).split(END)
        self.buf = parts.pop()
        for frame in parts:
            self.last = [(k, v) for k, _, v in (line.partition(": ") for line in frame.decode().split("\r\n"))]
        self._progress(len(parts))


class ReaderTracker(_Counting):
    def __init__(self, expected: int, done: asyncio.Future[float]) -> None:
        super().__init__(expected, done)
        self.reader = AmiReader()
        self.tracker = CallTracker()
        self.facts = 0

    def data_received(self, data: bytes) -> None:
        at = datetime.now(UTC)
        feed = self.tracker.feed
        msgs = self.reader.feed(data)
        n = 0
        for msg in msgs:
            n += len(feed(msg, at))
        self.facts += n
        self._progress(len(msgs))


Factory = Callable[[int, asyncio.Future[float]], _Counting]


async def run_protocol(factory: Factory, port: int, n: int) -> float:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    t0 = time.perf_counter()
    transport, _ = await loop.create_connection(lambda: factory(n + 1, done), "127.0.0.1", port)
    t1 = await done
    transport.close()
    return n / (t1 - t0)


async def run_panoramisk(port: int, n: int) -> float:
    from panoramisk import Manager

    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    count = 0

    def on_event(manager: Any, event: Any) -> None:
        nonlocal count
        count += 1
        if count >= n and not done.done():
            done.set_result(time.perf_counter())

    manager = Manager(
        loop=loop, host="127.0.0.1", port=port, username=USER, secret=SECRET, ping_delay=3600,
        ping_interval=3600,
    )
    manager.register_event("*", on_event)
    t0 = time.perf_counter()
    manager.connect()
    t1 = await done
    manager.close()
    await asyncio.sleep(0)
    return n / (t1 - t0)


async def run_client(port: int, n: int) -> float:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    tracker = CallTracker()
    count = 0
    base = datetime.now(UTC)
    last_at, last_dt = -1.0, base

    def on_event(msg: Message, at: float) -> None:
        nonlocal count, last_at, last_dt
        if at != last_at:  # events of one read share their receive time
            last_at, last_dt = at, base + timedelta(seconds=at)
        tracker.feed(msg, last_dt)
        count += 1
        if count >= n and not done.done():
            done.set_result(time.perf_counter())

    ami = AmiClient("127.0.0.1", port, USER, SECRET, on_event=on_event, ping_interval=3600)
    t0 = time.perf_counter()
    async with ami:
        t1 = await done
    return n / (t1 - t0)


# ---------------------------------------------------------------- main


async def run_two_clients(ports: list[int], n: int) -> float:
    t0 = time.perf_counter()
    await asyncio.gather(*(run_client(port, n) for port in ports))
    return len(ports) * n / (time.perf_counter() - t0)


def measure(port: int, n: int, which: str, ports: list[int]) -> float:
    if which == "a_split":
        return asyncio.run(run_protocol(SplitOnly, port, n))
    if which == "a_parse":
        return asyncio.run(run_protocol(ParseOnly, port, n))
    if which == "d_client_x2":
        return asyncio.run(run_two_clients(ports, n))
    if which == "b_panoramisk":
        return asyncio.run(run_panoramisk(port, n))
    if which == "c_reader":
        return asyncio.run(run_protocol(ReaderTracker, port, n))
    return asyncio.run(run_client(port, n))


READERS = "a_split,a_parse,b_panoramisk,c_reader,d_client,d_client_x2"
TARGETS = {"c_reader": 150_000}


def start_server(source: str, events: int) -> tuple[subprocess.Popen[str], int, int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--source", source, "--events", str(events)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port_s, n_s = proc.stdout.readline().split()
    return proc, int(port_s), int(n_s)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--source", choices=["recorded", "synthetic", "both"], default="both")
    ap.add_argument("--readers", default=READERS)
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sources = ["recorded", "synthetic"] if args.source == "both" else [args.source]
    if args.serve:
        serve(sources[0], args.events)
        return 0
    readers = args.readers.split(",")
    results: dict[str, Any] = {
        "bench": "ami_ingest",
        "machine": machine(),
        "command": command(argv),
        "events_target": args.events,
        "repeats": args.repeats,
        "targets": TARGETS,
        "runs": {},
    }
    m = results["machine"]
    print(f"AMI ingest over loopback TCP -- {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['date']}")
    print(f"events/s, median [min-max] of {args.repeats} runs; readers on one core, server in another process")
    for source in sources:
        servers = [start_server(source, args.events)]
        if "d_client_x2" in readers:
            servers.append(start_server(source, args.events))
        try:
            _, port, n = servers[0]
            ports = [p for _, p, _ in servers]
            for which in readers:
                rates = [measure(port, n, which, ports) for _ in range(args.repeats)]
                events = n * (len(ports) if which == "d_client_x2" else 1)
                results["runs"][f"{source}/{which}"] = {"events": events, **spread(rates)}
                med = statistics.median(rates)
                span = f"[{min(rates):,.0f}-{max(rates):,.0f}]"
                print(f"{source:9} {which:13} {events:>9} events  {med:>10,.0f} /s  {span}")
        finally:
            for proc, _, _ in servers:
                proc.terminate()
                proc.wait()
    print(f"target: c_reader >= {TARGETS['c_reader']:,} events/s on one core")
    print(f"command: {results['command']}")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
