#!/usr/bin/env python3
"""Where one run's added latency lies: tandem against its ceiling, one client, no load.

Starts `tandem serve` (scripted models, 20 ms Flash / 50 ms Pro unless told otherwise) and
`tandem-ceiling` with the same latencies, both on core 0, and posts runs one after another on a
keep-alive connection from this process pinned to core 1 (when there are two). For each server it
prints the median and the minimum time from sending the request to the first bytes of the
response (its head: for tandem, `run_started` is durable), to the preliminary frame, and to the
end of the stream. The difference between the two servers' rows is what tandem adds at each
step; the ceiling's own rows are the HTTP, timer and scheduling cost that any server pays.

    python3 Tools/profile/one_client_timeline.py .build/release/tandem .build/release/tandem-ceiling [--runs 60]
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reliability"))
from harness import free_port  # noqa: E402  (the reliability suite's; one copy in the project)
from callgrind_serve import REQUEST  # noqa: E402  (the profiler's query, the same for both tools)

WARM_UP = 5


def timeline(port, runs):
    """Milliseconds from sending each request to: first bytes, the preliminary frame, the end."""
    rows = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for index in range(runs + WARM_UP):
            start = time.perf_counter()
            sock.sendall(REQUEST)
            data, head, preliminary = b"", None, None
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("server closed the connection: " + data[-200:].decode(errors="replace"))
                now = time.perf_counter()
                data += chunk
                head = head or now
                if preliminary is None and b"event: preliminary" in data:
                    preliminary = now
                if data.endswith(b"0\r\n\r\n") or (not data.startswith(b"HTTP/1.1 200") and b"\r\n\r\n" in data):
                    break
            if not data.startswith(b"HTTP/1.1 200") or preliminary is None:
                raise RuntimeError("unexpected answer: " + data[:200].decode(errors="replace"))
            if index >= WARM_UP:
                rows.append([(t - start) * 1e3 for t in (head, preliminary, now)])
    return rows


def start(command, env, port):
    """Starts a server on core 0 and waits until it accepts connections; stops it on failure."""
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1 else []
    server = subprocess.Popen(pin + command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return server
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start")
                time.sleep(0.1)
    except BaseException:
        stop(server)
        raise


def stop(server):
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tandem")
    parser.add_argument("ceiling")
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--flash-ms", type=int, default=20)
    parser.add_argument("--pro-ms", type=int, default=50)
    args = parser.parse_args()
    if os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(0, {1})
    work = tempfile.mkdtemp(prefix="tandem-timeline-")
    try:
        results = {}
        tandem_port, ceiling_port = free_port(), free_port()
        # Scripted models whatever this shell has set: no provider choice, key or limit is passed on.
        env = {name: value for name, value in os.environ.items()
               if not name.startswith(("TANDEM_", "GEMINI_", "OPENAI_", "VERTEX_", "GOOGLE_"))}
        env.update(TANDEM_PROVIDER="scripted", TANDEM_SCRIPTED_FLASH_MS=str(args.flash_ms), TANDEM_SCRIPTED_PRO_MS=str(args.pro_ms))
        for name, command, port in [
            ("tandem", [args.tandem, "serve", "--port", str(tandem_port), "--data-dir", os.path.join(work, "data")], tandem_port),
            ("ceiling", [args.ceiling, "--port", str(ceiling_port), "--flash-ms", str(args.flash_ms), "--pro-ms", str(args.pro_ms)], ceiling_port),
        ]:
            server = start(command, env, port)
            try:
                if name == "tandem":
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10).read()
                results[name] = timeline(port, args.runs)
            finally:
                stop(server)
        print(f"# one client, {args.runs} runs each, scripted {args.flash_ms} ms Flash / {args.pro_ms} ms Pro; ms from sending the request")
        print("step | tandem p50 | ceiling p50 | tandem adds (p50) | tandem min | ceiling min")
        print("---- | ---------- | ----------- | ----------------- | ---------- | -----------")
        for column, step in enumerate(["first bytes (head)", "preliminary frame", "end of stream"]):
            tandem = [row[column] for row in results["tandem"]]
            ceiling = [row[column] for row in results["ceiling"]]
            print(f"{step} | {statistics.median(tandem):.2f} | {statistics.median(ceiling):.2f} | "
                  f"{statistics.median(tandem) - statistics.median(ceiling):.2f} | {min(tandem):.2f} | {min(ceiling):.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
