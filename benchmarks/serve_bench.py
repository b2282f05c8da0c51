"""Time `policydsl serve` on loopback: a fixed number of `evaluate` requests for the Bao'an policy.

    python benchmarks/serve_bench.py [--requests 5000] [--concurrency 4] [--warmup 200]
                                     [--workers 1] [--no-explain]

The server runs in its own process (`python -m policydsl serve`, `--workers` uvicorn workers) on a free
loopback port; the client sends the Bao'an sample applicant from `--concurrency` threads, each on
one kept-alive connection, until `--requests` answers have come back, then stops the server.  It
prints requests per second and the p50/p99 latency of one request (the client's view: sending,
the server's work, reading the answer), with the machine's load average.  Every answer is checked
(status 200, the sample's total).  `--no-explain` asks for the amounts only (`"explain": false`).
Figures are recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "baoan_industrial_internet.policy"
FACTS = json.loads((ROOT / "policies" / "samples" / "baoan_industrial_internet.json").read_text("utf-8"))
PATH = "/api/policies/baoan_industrial_internet/evaluate"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server ended with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("the server did not start in 60 s")


def client(port: int, count: int, body: bytes, total: str | None, out: list[float]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    for _ in range(count):
        started = time.perf_counter()
        conn.request("POST", PATH, body, headers)
        answer = conn.getresponse()
        data = answer.read()
        out.append(time.perf_counter() - started)
        if answer.status != 200 or (total is not None and json.loads(data)["total"]["amount"] != total):
            raise SystemExit(f"unexpected answer {answer.status}: {data[:200]!r}")
    conn.close()


def run(
    port: int, requests: int, concurrency: int, body: bytes, total: str | None
) -> tuple[float, list[float]]:
    share = [requests // concurrency + (1 if i < requests % concurrency else 0) for i in range(concurrency)]
    results: list[list[float]] = [[] for _ in share]
    threads = [
        threading.Thread(target=client, args=(port, n, body, total, results[i])) for i, n in enumerate(share)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, [x for r in results for x in r]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-explain", action="store_true", help="ask for the amounts only")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "policydsl",
            "serve",
            str(POLICY),
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(port, server)
        ask = {"facts": FACTS, "date": "2024-06-01", **({"explain": False} if args.no_explain else {})}
        body = json.dumps(ask).encode("utf-8")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", PATH, body, {"Content-Type": "application/json"})
        first = conn.getresponse()
        total = json.loads(first.read())["total"]["amount"]
        conn.close()
        run(port, args.warmup, args.concurrency, body, total)
        load_before = os.getloadavg()
        elapsed, latencies = run(port, args.requests, args.concurrency, body, total)
        load_after = os.getloadavg()
    finally:
        server.terminate()
        server.wait(10)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    what = "amounts only" if args.no_explain else "explained"
    print(
        f"evaluate ({what}), Bao'an policy (total {total}): {args.requests} requests, "
        f"concurrency {args.concurrency}, {args.workers} worker(s)"
    )
    print(f"  {args.requests / elapsed:,.0f} requests/s; p50 {p50:.2f} ms, p99 {p99:.2f} ms; {elapsed:.2f} s")
    print(f"  {os.cpu_count()} cores; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")


if __name__ == "__main__":
    main()
