#!/usr/bin/env python3
"""Instructions per run of `tandem serve`, by module, under valgrind's callgrind.

Hardware counters are not available on these VMs and wall-clock figures move by a quarter between
minutes; callgrind's instruction counts repeat within a fraction of a percent. This starts the
release binary (debug info stripped: valgrind 3.19 cannot read Swift's DWARF 5) under callgrind
with instrumentation off, posts warm-up runs, switches instrumentation on for `--runs` runs at
`--clients` keep-alive clients (scripted models, 0 ms unless `--flash-ms`/`--pro-ms`), switches it off, stops the server and
prints self instructions per run grouped by module: a Swift symbol's module from its mangled name,
anything else by the shared object it lives in.

    python3 Tools/profile/callgrind_serve.py .build/release/tandem [--runs 2000] [--clients 16]

With several binaries it profiles each in turn and prints one table with a column each.
"""
import argparse
import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reliability"))
from harness import free_port  # noqa: E402  (the reliability suite's; one copy in the project)

BODY = b'{"query":"How far is the moon?","context":{"bench":true}}'
REQUEST = (b"POST /api/reasoning/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


def shim(work):
    path = os.path.join(work, "sigsuspend_shim.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", path, os.path.join(HERE, "sigsuspend_shim.c"), "-ldl"], check=True)
    return path


def one_run(sock):
    """Posts one query on a keep-alive connection and reads its stream to the final chunk."""
    sock.sendall(REQUEST)
    data = b""
    while not (b"event: done" in data and data.endswith(b"0\r\n\r\n")):
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("server closed the connection: " + data[-200:].decode(errors="replace"))
        data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("unexpected answer: " + data[:200].decode(errors="replace"))


def drive(port, clients, runs):
    counter = [runs]
    lock = threading.Lock()
    errors = []

    def client():
        try:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                while True:
                    with lock:
                        if counter[0] == 0:
                            return
                        counter[0] -= 1
                    one_run(sock)
        except Exception as error:  # reported below: a failed run makes the figures meaningless
            errors.append(error)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed: {errors[0]}")


def profile(binary, runs, warmup, clients, work, shim_path, flash_ms, pro_ms):
    name = os.path.basename(binary)
    stripped = os.path.join(work, f"{name}-{len(os.listdir(work))}")
    shutil.copy(binary, stripped)
    subprocess.run(["strip", "--strip-debug", stripped], check=True)
    out = stripped + ".callgrind"
    data = tempfile.mkdtemp(dir=work)
    port = free_port()
    env = dict(os.environ, LD_PRELOAD=shim_path, TANDEM_SCRIPTED_FLASH_MS=str(flash_ms), TANDEM_SCRIPTED_PRO_MS=str(pro_ms),
               TANDEM_MAX_CONCURRENT_RUNS="100000")
    log = open(stripped + ".log", "w")
    server = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                               stripped, "serve", "--port", str(port), "--data-dir", data],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{binary} did not come up under valgrind; see {log.name}")
                time.sleep(1)
        drive(port, clients, warmup)
        subprocess.run(["callgrind_control", "-i", "on", str(server.pid)], check=True, stdout=subprocess.DEVNULL)
        drive(port, clients, runs)
        subprocess.run(["callgrind_control", "-i", "off", str(server.pid)], check=True, stdout=subprocess.DEVNULL)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=300)
    return by_module(out)


SWIFT_MODULE = re.compile(r"\$s(\d+)([A-Za-z_][A-Za-z0-9_]*)")
KNOWN_OBJECTS = [("libswiftCore", "libswiftCore"), ("libswift_Concurrency", "libswift_Concurrency"),
                 ("libc.so", "libc"), ("liblmdb", "liblmdb"), ("libdispatch", "libdispatch"),
                 ("libFoundation", "Foundation"), ("ld-linux", "ld.so"), ("libstdc++", "libstdc++")]


def module_of(symbol, obj):
    match = SWIFT_MODULE.search(symbol)
    if match:
        length = int(match.group(1))
        return match.group(2)[:length]
    for needle, label in KNOWN_OBJECTS:
        if needle in obj:
            return label
    if "CCryptoBoringSSL" in symbol or "sha256" in symbol.lower() or "boringssl" in symbol.lower():
        return "BoringSSL"
    base = os.path.basename(obj)
    if base and not base.startswith("tandem"):
        return base
    # Generic standard-library code specialised into the binary (`$sSa6append…`, `$ss…`).
    return "stdlib specialised into tandem" if symbol.startswith("$s") else "other C code in tandem"


def by_module(out):
    """Self instructions by module, from callgrind_annotate's per-function listing."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", "--show-percs=no", out],
                          check=True, capture_output=True, text=True).stdout
    totals = collections.Counter()
    line_re = re.compile(r"^\s*([\d,]+)\s+(\S.*?)(?: \[(.*)\])?\s*$")
    in_table = False
    for line in text.splitlines():
        if line.startswith("Ir") and "file:function" in line:
            in_table = True
            continue
        if not in_table or not line.strip() or line.startswith("-"):
            continue
        match = line_re.match(line)
        if not match:
            continue
        count = int(match.group(1).replace(",", ""))
        symbol = match.group(2).split(":", 1)[-1]
        totals[module_of(symbol, match.group(3) or "")] += count
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--flash-ms", type=int, default=0, help="the scripted Flash model's latency")
    parser.add_argument("--pro-ms", type=int, default=0, help="the scripted Pro model's latency")
    parser.add_argument("--keep", help="keep the callgrind files in this directory")
    args = parser.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="tandem-callgrind-")
    os.makedirs(work, exist_ok=True)
    shim_path = shim(work)
    tables = [profile(binary, args.runs, args.warmup, args.clients, work, shim_path, args.flash_ms, args.pro_ms) for binary in args.binaries]
    modules = sorted(set().union(*tables), key=lambda m: -max(t[m] for t in tables))
    header = "| module | " + " | ".join(f"Ir per run: {b}" for b in args.binaries) + " |"
    print(f"{args.runs} runs at {args.clients} clients after {args.warmup} warm-up runs, scripted models {args.flash_ms}/{args.pro_ms} ms")
    print(header)
    print("|" + "---|" * (len(args.binaries) + 1))
    print("| all | " + " | ".join(f"{sum(t.values()) / args.runs / 1000:,.0f}k" for t in tables) + " |")
    for module in modules:
        cells = [t[module] / args.runs for t in tables]
        if max(cells) < 2000:
            continue
        print(f"| {module} | " + " | ".join(f"{c / 1000:,.1f}k" for c in cells) + " |")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"callgrind files kept in {work}")


if __name__ == "__main__":
    sys.exit(main())
