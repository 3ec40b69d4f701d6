"""What every part of the reliability suite shares: the processes it starts (and always stops),
a `tandem serve` on a free loopback port, a streaming SSE client, the journal read back as NDJSON,
and a part's outcome."""
from __future__ import annotations

import asyncio
import atexit
import json
import os
import re
import signal
import socket
import subprocess
import shutil
import tempfile
import time
from dataclasses import dataclass, field

# MARK: - Processes


class Processes:
    """Every process the suite starts, each in its own process group, killed on exit whatever happens."""

    def __init__(self) -> None:
        self._live: list[subprocess.Popen] = []
        atexit.register(self.stop_all)

    def start(self, argv: list[str], env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(argv, env=env, start_new_session=True, **kwargs)
        self._live.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        if sig in (signal.SIGKILL, signal.SIGTERM):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            self.forget(proc)

    def forget(self, proc: subprocess.Popen) -> None:
        if proc in self._live:
            self._live.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self._live):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGCONT)
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        self._live.clear()


PROCESSES = Processes()


def _on_signal(signum, _frame):
    PROCESSES.stop_all()
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)

# MARK: - tandem serve


class Serve:
    """One `tandem serve` on 127.0.0.1 and a free port; its log goes to a file."""

    LISTENING = re.compile(rb"listening.*?address=127\.0\.0\.1:(\d+)|address=127\.0\.0\.1:(\d+).*?listening")

    def __init__(self, binary: str, data_dir: str, env: dict[str, str], log_path: str) -> None:
        self.binary, self.data_dir, self.log_path = binary, data_dir, log_path
        full = dict(os.environ)
        full.update({"HOST": "127.0.0.1", "PORT": "0", "TANDEM_PROVIDER": "scripted", "LOG_LEVEL": "info"})
        full.update(env)
        self._log = open(log_path, "ab")
        self._log_start = self._log.tell()
        self.proc = PROCESSES.start([binary, "serve", "--data-dir", data_dir], env=full,
                                    stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.port = 0

    def wait_listening(self, timeout: float = 60) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_start)
                match = self.LISTENING.search(f.read())
            if match:
                self.port = int(match.group(1) or match.group(2))
                return self.port
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode} before listening: {self.log_tail()}")
            time.sleep(0.05)
        raise RuntimeError(f"serve did not listen within {timeout} s: {self.log_tail()}")

    def log_tail(self, size: int = 1500) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(max(self._log_start, os.path.getsize(self.log_path) - size))
            return f.read().decode(errors="replace")

    def kill9(self) -> None:
        PROCESSES.kill(self.proc, signal.SIGKILL)
        self._log.close()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not ended in 20 s."""
        PROCESSES.kill(self.proc, signal.SIGTERM)
        self._log.close()

    def wait_exit(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        PROCESSES.forget(self.proc)
        self._log.close()
        return True

    def pid(self) -> int:
        return self.proc.pid


def run_cli(binary: str, args: list[str], timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A `tandem` operator command; bounded in time."""
    full = dict(os.environ)
    if env:
        full.update(env)
    return subprocess.run([binary, *args], capture_output=True, timeout=timeout, env=full, stdin=subprocess.DEVNULL)


# MARK: - The journal


@dataclass
class Entry:
    seq: int
    run_id: str
    type: str
    data: dict
    line: bytes
    ts: str = ""

    def seconds(self) -> float:
        """The commit time (`YYYY-MM-DDTHH:MM:SS.ffffffZ`) as seconds since the epoch."""
        import datetime
        return datetime.datetime.strptime(self.ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def replay(binary: str, data_dir: str, extra: list[str] | None = None) -> list[Entry]:
    """`tandem journal replay` parsed: every entry, in order."""
    done = run_cli(binary, ["journal", "replay", "--data-dir", data_dir, *(extra or [])], timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"journal replay exited {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")
    entries = []
    for line in done.stdout.splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        entries.append(Entry(seq=int(obj["seq"]), run_id=obj.get("run_id", ""), type=obj["type"], data=obj.get("data") or {}, line=line, ts=obj.get("ts", "")))
    return entries


# MARK: - An SSE client


@dataclass
class Frame:
    id: int | None
    event: str
    data: bytes
    raw: bytes
    at: float = 0.0  # time.monotonic() when its blank line arrived

    def json(self) -> dict:
        return json.loads(self.data)


@dataclass
class StreamResult:
    status: int = 0
    headers: dict = field(default_factory=dict)
    body: bytes = b""          # non-SSE responses
    frames: list = field(default_factory=list)
    complete: bool = False     # the terminating chunk arrived
    error: str | None = None
    ended_at: float = 0.0


async def post_stream(port: int, body: dict | bytes, *, timeout: float, headers: dict | None = None,
                      path: str = "/api/reasoning/query", method: str = "POST",
                      read_delay: float = 0.0, leave_after_frames: int | None = None,
                      on_open=None) -> StreamResult:
    """Sends one request and reads its answer incrementally; a frame counts only when its blank line
    arrived. Never raises for connection faults: they end up in `error`."""
    result = StreamResult()
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            if on_open:
                on_open()
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
            if method == "POST":
                head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
            for k, v in (headers or {}).items():
                head.append(f"{k}: {v}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + (payload if method == "POST" else b""))
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:
                result.error = "closed before the status line"
                return result
            result.status = int(status_line.split()[1])
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                k, _, v = line.decode("latin-1").partition(":")
                result.headers[k.strip().lower()] = v.strip()
            chunked = result.headers.get("transfer-encoding", "").lower() == "chunked"
            buffer = b""
            async for piece in _body_pieces(reader, chunked, result):
                if read_delay:
                    await asyncio.sleep(read_delay)
                if "text/event-stream" not in result.headers.get("content-type", ""):
                    result.body += piece
                    continue
                buffer += piece
                while b"\n\n" in buffer:
                    raw, buffer = buffer.split(b"\n\n", 1)
                    frame = _parse_frame(raw + b"\n\n")
                    if frame:
                        frame.at = time.monotonic()
                        result.frames.append(frame)
                        if leave_after_frames is not None and len(result.frames) >= leave_after_frames:
                            result.error = "left"
                            return result
    except TimeoutError:
        result.error = "timeout"
    except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError) as e:
        result.error = f"{type(e).__name__}: {e}"
    finally:
        result.ended_at = time.monotonic()
        if writer is not None:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 2)
            except (Exception, asyncio.CancelledError):
                pass
    return result


async def _body_pieces(reader, chunked: bool, result: StreamResult):
    if not chunked:
        length = int(result.headers.get("content-length", "-1"))
        if length >= 0:
            yield await reader.readexactly(length)
            result.complete = True
            return
        while True:
            piece = await reader.read(65536)
            if not piece:
                result.complete = True
                return
            yield piece
    while True:
        size_line = await reader.readline()
        if not size_line:
            raise ConnectionError("connection closed inside the chunked body")
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readline()
            result.complete = True
            return
        data = await reader.readexactly(size)
        await reader.readexactly(2)
        yield data


def _parse_frame(raw: bytes) -> Frame | None:
    fid, event, data = None, "message", []
    for line in raw.split(b"\n"):
        if line.startswith(b":") or not line:
            continue
        k, _, v = line.partition(b":")
        v = v[1:] if v.startswith(b" ") else v
        if k == b"id":
            fid = int(v)
        elif k == b"event":
            event = v.decode()
        elif k == b"data":
            data.append(v)
    if not data and fid is None and event == "message":
        return None
    return Frame(id=fid, event=event, data=b"\n".join(data), raw=raw)


async def get_json(port: int, path: str, timeout: float = 30) -> tuple[int, object]:
    r = await post_stream(port, b"", timeout=timeout, path=path, method="GET")
    try:
        return r.status, json.loads(r.body) if r.body else None
    except json.JSONDecodeError:
        return r.status, r.body


# MARK: - Outcomes


@dataclass
class Outcome:
    """A part's verdict and the figures it prints and writes into docs/RELIABILITY.md."""
    name: str
    status: str = "PASS"            # PASS, FAIL or SKIP
    figures: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    seconds: float = 0.0

    def fail(self, message: str) -> None:
        self.status = "FAIL"
        if len(self.failures) < 20:
            self.failures.append(message)

    def line(self) -> str:
        figures = ", ".join(f"{k}={v}" for k, v in self.figures.items())
        return f"{self.status} {self.name} ({self.seconds:.0f} s): {figures}" + (f" — {'; '.join(self.notes)}" if self.notes else "")


# Every temporary dir a part made, for remove_temp_dirs (each may have a log file beside it, `<dir>.log`).
TEMP_DIRS: list[str] = []


def temp_dir(prefix: str) -> str:
    path = tempfile.mkdtemp(prefix=f"tandem-rel-{prefix}-")
    TEMP_DIRS.append(path)
    return path


def remove_temp_dirs() -> None:
    """Removes the parts' temporary dirs and the logs beside them (after a run where none failed)."""
    for path in TEMP_DIRS:
        shutil.rmtree(path, ignore_errors=True)
        try:
            os.remove(path + ".log")
        except FileNotFoundError:
            pass
    TEMP_DIRS.clear()


def free_port() -> int:
    """A loopback port nothing listens on (bound once by the kernel's choice, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
