"""Part 2, the upstream fault matrix: for each provider (Gemini, OpenAI) × each fault of the fake
upstream, one run through a release `serve` with short deadlines (Flash 1 s, Pro 2 s): the stream
ends with `done`, every deadline fires within 100 ms of its time, no upstream connection is left
open when the run ends, and the journal names what happened."""
from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor

from fake_upstream import CASES, DELTAS_CASES, TEN_MB, FakeUpstream
from harness import Outcome, Serve, free_port, post_stream, replay, temp_dir

PROVIDERS = ["gemini", "openai"]
TIMEOUTS_S = {"flash": 1.0, "pro": 2.0}
DEADLINE_SLACK_MS = 100
# How long after `done` the fake may take to see a close. tandem closes first (strace of serve: the
# upstream socket's close() ~9 ms before the done frame's write), but the fake's event loop shares
# this process's GIL with six cases' drivers, which parse 10 MB answers while the fake encodes
# them: it saw closes up to 0.57 s late on an idle machine, so 0.1 s failed at random. A connection
# tandem leaves open stays open for the fault's whole length (30 s stalls, ~150 s of one byte a
# second), far past this.
CLOSE_GRACE_S = 1.0
ROLE_ENDS = ("completed", "failed", "timeout", "cancelled")


def serve_env(provider: str, base: str) -> dict[str, str]:
    env = {"FLASH_TIMEOUT_S": str(TIMEOUTS_S["flash"]), "PRO_TIMEOUT_S": str(TIMEOUTS_S["pro"]), "TANDEM_PROVIDER": provider}
    if provider == "gemini":
        env.update({"GEMINI_API_KEY": "fake-key", "GEMINI_BASE_URL": base, "GEMINI_FLASH_MODEL": "fake-flash", "GEMINI_PRO_MODEL": "fake-pro"})
    else:
        env.update({"OPENAI_BASE_URL": base, "OPENAI_API_KEY": "fake-key", "OPENAI_FLASH_MODEL": "fake-flash", "OPENAI_PRO_MODEL": "fake-pro"})
    return env


def expectation(case: str, role: str, events: dict[str, list[dict]]) -> str | None:
    """None when the role's journal entries tell what the fault was; else what is wrong."""
    ends = [t for t in ROLE_ENDS if events.get(t)]
    if len(ends) != 1 or len(events[ends[0]]) != 1:
        return f"{role} ended {sum(len(events.get(t, [])) for t in ROLE_ENDS)} times ({ends})"
    end = ends[0]
    failed = (events.get("failed") or [{}])[0]
    retries = events.get("retry", [])
    classes = {failed.get("error_class")} | {r.get("error_class") for r in retries}
    statuses = {failed.get("http_status")} | {r.get("http_status") for r in retries}

    def need(ok: bool, what: str) -> str | None:
        return None if ok else f"{role}: expected {what}; got {end}, classes {sorted(c for c in classes if c)}, statuses {sorted(s for s in statuses if s)}"

    # Pro answers as fast as Flash here: Flash cancelled because Pro already answered is right.
    superseded = role == "flash" and end == "cancelled" and (events.get("cancelled") or [{}])[0].get("reason") == "superseded"
    if case in ("ok", "absurd_usage"):
        if superseded:
            return None
        if end != "completed":
            return need(False, "completed")
        usage = events["completed"][0].get("usage", {})
        counts = [usage.get("input_tokens"), usage.get("output_tokens")]
        return need(all(isinstance(c, int) and c >= 0 for c in counts), f"sane usage (got {usage})")
    if case in ("refused", "reset_mid_stream"):
        return need(end in ("failed", "timeout") and "upstream_connection" in classes, "upstream_connection failures")
    if case in ("stall_before_headers", "stall_after_headers", "one_byte_per_second"):
        return need(end == "timeout", "a timeout")
    if case.startswith("429"):
        ok = end in ("failed", "timeout") and 429 in statuses and "upstream_rate_limited" in classes
        if case == "429_retry_after":
            ok = ok and all(r.get("delay_ms", 0) >= 1000 for r in retries if r.get("http_status") == 429)
        return need(ok, "429 rate limiting" + (" with retries waiting ≥ Retry-After" if case == "429_retry_after" else ""))
    if case in ("500", "503"):
        return need(end in ("failed", "timeout") and int(case) in statuses and "upstream_http_5xx" in classes, f"HTTP {case}")
    if case in ("malformed_json", "truncated_sse"):
        return need(end == "failed" and failed.get("error_class") == "upstream_protocol", "upstream_protocol")
    if case == "empty_answer":
        return need(end in ("failed", "timeout") and "upstream_empty" in classes, "upstream_empty")
    if case == "10mb_answer":
        if superseded:
            return None
        if end == "completed":
            return need(len(events["completed"][0].get("content", "")) == TEN_MB, "all 10 MiB of the answer")
        return need(end in ("timeout", "failed"), "the answer, or a named timeout/failure")
    if case in ("failure_after_first_piece", "failure_after_first_delta"):
        return need(end == "failed" and failed.get("error_class") == "upstream_error" and not retries, "upstream_error, not retried after text")
    return f"no expectation for {case}"


def deltas_then_failed(tag: str, entries, result) -> list[str]:
    """A deltas run whose upstream failed after streaming text: per model, the journal holds its
    deltas ("A first piece", offsets from 0) and then `*_failed`, never a retry; the client saw each
    delta as a frame with its seq before the model's error frame."""
    problems = []
    for role in ("flash", "pro"):
        mine = [e for e in entries if e.type.startswith(role + "_")]
        deltas = [e for e in mine if e.type == f"{role}_delta"]
        failed = [e for e in mine if e.type == f"{role}_failed"]
        if any(e.type == f"{role}_retry" for e in mine):
            problems.append(f"{tag}: {role} retried after its text was journaled")
        if not deltas or len(failed) != 1 or max(d.seq for d in deltas) > failed[0].seq:
            problems.append(f"{tag}: {role}: expected deltas then {role}_failed; got {[e.type for e in mine]}")
            continue
        text = "".join(str(d.data.get("text", "")) for d in deltas)
        if text != "A first piece" or deltas[0].data.get("offset") != 0:
            problems.append(f"{tag}: {role}'s deltas hold {text!r} from offset {deltas[0].data.get('offset')}, the fake sent 'A first piece'")
        frames = {f.id: f for f in result.frames if f.id is not None}
        missing = [d.seq for d in deltas if d.seq not in frames or frames[d.seq].event != "delta"]
        if missing:
            problems.append(f"{tag}: {role}'s delta entries {missing} reached the client as no delta frame")
        if failed[0].seq not in frames or frames[failed[0].seq].event != "error":
            problems.append(f"{tag}: {role}_failed seq {failed[0].seq} reached the client as no error frame")
    return problems


def one_case(ctx, fake: FakeUpstream, provider: str, case: str, figures: dict) -> list[str]:
    problems: list[str] = []
    tag = f"{provider}.{case}"
    port = free_port() if case == "refused" else fake.port
    data_dir = temp_dir(f"up-{tag}")
    serve = Serve(ctx.binary, data_dir, serve_env(provider, f"http://127.0.0.1:{port}/{tag}"), data_dir + ".log")
    try:
        serve_port = serve.wait_listening()
        body = {"query": f"matrix {tag}", **({"stream": "deltas"} if case in DELTAS_CASES else {})}
        result = asyncio.run(post_stream(serve_port, body, timeout=30))
        done_at = time.monotonic()
        # Connections: none may outlive the run (a FIN takes a moment to be seen: 100 ms grace).
        open_now = fake.open_count(tag)
        while fake.open_count(tag) > 0 and time.monotonic() - done_at < CLOSE_GRACE_S:
            time.sleep(0.005)
        if fake.open_count(tag) > 0:
            problems.append(f"{tag}: {fake.open_count(tag)} upstream connection(s) still open {CLOSE_GRACE_S * 1000:.0f} ms after `done`")
        elif open_now:
            seen = (fake.closed_at.get(tag, done_at) - done_at) * 1000
            figures["worst_close_seen_ms"] = max(figures.get("worst_close_seen_ms", 0), round(seen))
        figures["open_at_done"] = max(figures.get("open_at_done", 0), open_now)
        if result.status != 200 or not result.frames or result.frames[-1].event != "done" or not result.complete:
            problems.append(f"{tag}: stream did not end with done (status {result.status}, frames {[f.event for f in result.frames]}, error {result.error})")
    finally:
        serve.stop()
    entries = replay(ctx.binary, data_dir)
    figures["entries"] = figures.get("entries", 0) + len(entries)
    for role in ("flash", "pro"):
        events: dict[str, list[dict]] = {}
        for e in entries:
            if e.type.startswith(role + "_"):
                events.setdefault(e.type[len(role) + 1:], []).append(e.data)
        # The run's start: `*_started` may be held back for a shared commit (TANDEM_PROGRESS_HOLD_MS),
        # so its `ts` is not the call's start; the calls start once `run_started` is durable.
        run_start = [e for e in entries if e.type == "run_started"]
        for e in entries:
            if e.type != f"{role}_timeout":
                continue
            t = e.data
            figures["deadlines"] = figures.get("deadlines", 0) + 1
            # Both what the entry says and the journal's own clock: run start to timeout commit.
            measured = (e.seconds() - run_start[0].seconds()) * 1000 if run_start else t["elapsed_ms"]
            off = max(abs(t["elapsed_ms"] - t["timeout_s"] * 1000), abs(measured - t["timeout_s"] * 1000))
            figures["worst_deadline_ms"] = max(figures.get("worst_deadline_ms", 0), round(off))
            if off > DEADLINE_SLACK_MS:
                problems.append(f"{tag}: {role} {t['phase']} deadline {t['timeout_s']} s fired at {t['elapsed_ms']} ms "
                                f"by its entry, {measured:.0f} ms from run_started to the timeout's commit")
        problem = expectation(case, role, events)
        if problem:
            problems.append(f"{tag}: {problem}")
    if case in DELTAS_CASES:
        problems += deltas_then_failed(tag, entries, result)
    if not any(e.type == "done" for e in entries):
        problems.append(f"{tag}: no done entry in the journal")
    return problems


def run(ctx) -> Outcome:
    out = Outcome("upstream-matrix")
    fake = FakeUpstream()
    fake.start()
    figures: dict = {}
    try:
        jobs = [(p, c) for p in PROVIDERS for c in CASES]
        with ThreadPoolExecutor(max_workers=int(os.environ.get("RELIABILITY_UPSTREAM_PARALLEL", "6"))) as pool:
            results = list(pool.map(lambda job: one_case(ctx, fake, job[0], job[1], figures), jobs))
        for problems in results:
            for p in problems:
                out.fail(p)
        out.figures = {"cases": len(jobs), "faults": len(CASES) - 1, "deltas_cases": len(DELTAS_CASES) * len(PROVIDERS), "providers": len(PROVIDERS),
                       "deadlines_checked": figures.get("deadlines", 0), "worst_deadline_error_ms": figures.get("worst_deadline_ms", 0),
                       "upstream_connections": sum(fake.accepted.values()),
                       "open_at_done": figures.get("open_at_done", 0), "worst_close_seen_after_done_ms": figures.get("worst_close_seen_ms", 0), "entries_checked": figures.get("entries", 0),
                       "left_open": sum(max(0, fake.open_count(f"{p}.{c}")) for p, c in jobs)}
    finally:
        fake.stop()
    return out
