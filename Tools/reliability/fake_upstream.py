"""A fake model upstream speaking Gemini's `streamGenerateContent?alt=sse` and OpenAI's
`/v1/chat/completions` stream, misbehaving on purpose.

The case comes from the first path segment (`GEMINI_BASE_URL=http://127.0.0.1:P/<case>`), so one
fake serves every case at once. Every response carries `Connection: close`: a connection still open
is one tandem has not closed, which the fake counts per case."""
from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
from collections import defaultdict

CASES = [
    "ok", "refused", "reset_mid_stream", "stall_before_headers", "stall_after_headers", "one_byte_per_second",
    "429_retry_after", "429_no_retry_after", "500", "503", "malformed_json", "truncated_sse", "empty_answer",
    "10mb_answer", "absurd_usage", "failure_after_first_piece", "failure_after_first_delta",
]
# Cases whose run asks for `"stream": "deltas"` (SPEC §10); the fake behaves as for the case named.
DELTAS_CASES = {"failure_after_first_delta": "failure_after_first_piece"}
TEN_MB = 10 * 1024 * 1024


def gemini_event(text: str | None = None, usage: dict | None = None, finish: str | None = None) -> bytes:
    chunk: dict = {"modelVersion": "fake-gemini", "responseId": "fake-1"}
    if text is not None or finish:
        candidate: dict = {"content": {"role": "model", "parts": [{"text": text}] if text is not None else []}}
        if finish:
            candidate["finishReason"] = finish
        chunk["candidates"] = [candidate]
    if usage is not None:
        chunk["usageMetadata"] = usage
    return b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n"


def openai_event(text: str | None = None, usage: dict | None = None, finish: str | None = None) -> bytes:
    chunk: dict = {"id": "fake-1", "model": "fake-openai", "object": "chat.completion.chunk"}
    chunk["choices"] = [] if text is None and not finish else [{"index": 0, "delta": {"content": text} if text is not None else {}, "finish_reason": finish}]
    if usage is not None:
        chunk["usage"] = usage
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


class FakeUpstream:
    """The server, on its own thread and event loop; counters are read from the driver's thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open: dict[str, int] = defaultdict(int)       # connections not yet closed, per case
        self.accepted: dict[str, int] = defaultdict(int)
        self.requests: dict[str, int] = defaultdict(int)
        self.closed_at: dict[str, float] = {}               # monotonic time the last connection of a case closed
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> int:
        self._thread.start()
        self._ready.wait(10)
        return self.port

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def open_count(self, case: str) -> int:
        with self.lock:
            return self.open[case]

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=1024))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        case = "?"
        try:
            request_line = await reader.readline()
            parts = request_line.split()
            if len(parts) < 2:
                return
            path = parts[1].decode()
            case = path.split("/")[1] if path.count("/") > 1 else "?"
            with self.lock:
                self.open[case] += 1
                self.accepted[case] += 1
                self.requests[case] += 1
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                k, _, v = line.decode("latin-1").partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
            body = json.loads(await reader.readexactly(length)) if length else {}
            flavour = "openai" if "/v1/chat/completions" in path else "gemini"
            # Watch for tandem closing its end while the case is stalling or writing.
            gone = asyncio.ensure_future(reader.read(1))
            gone.add_done_callback(lambda f: f.cancelled() or f.exception())  # a reset is an answer, not an error to log
            await self._answer(case, flavour, body, writer, gone)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass
            if case != "?":
                with self.lock:
                    self.open[case] -= 1
                    self.closed_at[case] = time.monotonic()

    async def _answer(self, case: str, flavour: str, body: dict, writer: asyncio.StreamWriter, gone: asyncio.Future) -> None:
        case = case.split(".")[-1]  # "<provider>.<case>": counted per provider, behaves per case
        case = DELTAS_CASES.get(case, case)
        event = openai_event if flavour == "openai" else gemini_event
        usage = ({"prompt_tokens": 7, "completion_tokens": 3} if flavour == "openai" else {"promptTokenCount": 7, "candidatesTokenCount": 3})

        async def stall(seconds: float) -> None:
            try:
                await asyncio.wait_for(asyncio.shield(gone), seconds)
            except TimeoutError:
                pass

        def head(status: int = 200, extra: str = "", content_type: str = "text/event-stream") -> bytes:
            reason = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}[status]
            return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\nconnection: close\r\n{extra}"
                    "transfer-encoding: chunked\r\n\r\n").encode()

        def chunk(data: bytes) -> bytes:
            return f"{len(data):x}\r\n".encode() + data + b"\r\n"

        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        def final_events() -> bytes:
            done = event(None, usage=usage, finish="STOP" if flavour == "gemini" else "stop")
            return done + (b"data: [DONE]\n\n" if flavour == "openai" else b"")

        if case == "ok" or case == "refused":
            await send(head() + chunk(event("The fake says hello.")) + chunk(final_events()) + b"0\r\n\r\n")
        elif case == "reset_mid_stream":
            await send(head() + chunk(b'data: {"candidates": [{"content'))
            await asyncio.sleep(0.05)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        elif case == "stall_before_headers":
            await stall(30)
        elif case == "stall_after_headers":
            await send(head())
            await stall(30)
        elif case == "one_byte_per_second":
            await send(head())
            for byte in event("slow answer") + final_events():
                if gone.done():
                    return
                await send(chunk(bytes([byte])))
                await stall(1.0)
        elif case in ("429_retry_after", "429_no_retry_after"):
            extra = "retry-after: 1\r\n" if case == "429_retry_after" else ""
            payload = json.dumps({"error": {"message": "slow down", "code": 429}}).encode()
            await send(head(429, extra, "application/json") + chunk(payload) + b"0\r\n\r\n")
        elif case in ("500", "503"):
            status = int(case)
            payload = json.dumps({"error": {"message": f"fake {status}"}}).encode()
            await send(head(status, "", "application/json") + chunk(payload) + b"0\r\n\r\n")
        elif case == "malformed_json":
            await send(head() + chunk(b"data: {this is not json\n\n") + b"0\r\n\r\n")
        elif case == "truncated_sse":
            await send(head() + chunk(event("The first half") + b'data: {"candidates": [{"content": {"parts": [{"te') + b"0\r\n\r\n")
        elif case == "empty_answer":
            await send(head() + chunk(event(None, usage=usage, finish="STOP" if flavour == "gemini" else "stop")) + b"0\r\n\r\n")
        elif case == "10mb_answer":
            await send(head())
            piece = ("0123456789abcdef" * 4096)  # 64 KiB of text per event
            sent = 0
            while sent < TEN_MB:
                if gone.done():
                    return
                await send(chunk(event(piece)))
                sent += len(piece)
            await send(chunk(final_events()) + b"0\r\n\r\n")
        elif case == "absurd_usage":
            absurd = ({"prompt_tokens": 10**30, "completion_tokens": -5} if flavour == "openai"
                      else {"promptTokenCount": 1e300, "candidatesTokenCount": -7})
            await send(head() + chunk(event("Numbers are hard.")) + chunk(event(None, usage=absurd, finish="STOP" if flavour == "gemini" else "stop"))
                       + (chunk(b"data: [DONE]\n\n") if flavour == "openai" else b"") + b"0\r\n\r\n")
        elif case == "failure_after_first_piece":
            await send(head() + chunk(event("A first piece")))
            await asyncio.sleep(0.05)
            await send(chunk(b'data: {"error": {"message": "the fake fell over", "code": 500}}\n\n') + b"0\r\n\r\n")
        else:
            await send(head(500, "", "application/json") + chunk(b'{"error": "unknown case"}') + b"0\r\n\r\n")
        # Connection: close — the fake ends its side once the answer is written (tandem may also).
        try:
            await asyncio.wait_for(asyncio.shield(gone), 0.2)
        except TimeoutError:
            pass
