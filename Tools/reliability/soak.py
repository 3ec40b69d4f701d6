"""Part 4, the soak: many concurrent open streams held for a while (a fifth reading slowly, a fifth
leaving mid-stream), while the server's RSS and open descriptors are sampled from /proc: peak RSS
≤ 1 GiB, descriptors back to their baseline after, memory back near its baseline, every run ended
in the journal."""
from __future__ import annotations

import asyncio
import resource
import threading
import time
from collections import Counter

from harness import Outcome, Serve, fd_count, get_json, post_stream, replay, rss_kib, temp_dir
from journal_checks import check_runs_end_once

PEAK_LIMIT_KIB = 1024 * 1024
FD_SLACK = 8


def raise_fd_limit(want: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, max(soft, want))
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


class Sampler(threading.Thread):
    """Samples the server's RSS every 200 ms: the peak is the largest sample."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, False

    def run(self) -> None:
        while not self.stop:
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return
            time.sleep(0.2)


def run(ctx) -> Outcome:
    out = Outcome("soak")
    streams, hold = ctx.soak_streams, ctx.soak_seconds
    limit = raise_fd_limit(2 * streams + 1024)
    if limit < streams + 512:
        streams = limit - 512
        out.notes.append(f"fd limit {limit}: {streams} streams")
    data_dir = temp_dir("soak")
    env = {"TANDEM_SCRIPTED_FLASH_MS": "1000", "TANDEM_SCRIPTED_PRO_MS": str(int(hold * 1000)),
           "PRO_TIMEOUT_S": str(int(hold + 60)), "TANDEM_MAX_CONCURRENT_RUNS": str(streams + 100),
           "TANDEM_SSE_PING_S": "5", "TANDEM_DURABILITY": "async"}
    serve = Serve(ctx.binary, data_dir, env, data_dir + ".log")
    try:
        port = serve.wait_listening()
        pid = serve.pid()
        asyncio.run(post_stream(port, {"query": "warm up"}, timeout=hold + 30))
        base_fds, base_rss = fd_count(pid), rss_kib(pid)
        sampler = Sampler(pid)
        sampler.start()
        results = asyncio.run(_soak(port, streams, hold))
        figures = Counter(kind for kind, _ in results)
        ended = Counter()
        for kind, r in results:
            if kind == "leaver":
                ended["left"] += r.error == "left"
            elif r.status == 200 and r.frames and r.frames[-1].event == "done":
                ended["done"] += 1
            else:
                ended["other"] += 1
                if ended["other"] <= 5:
                    out.fail(f"a {kind} stream did not end with done: status {r.status}, error {r.error}, frames {[f.event for f in r.frames]}")
        # After: descriptors and memory once the server has settled.
        fds_after = base_fds
        settle_end = time.monotonic() + 20
        while time.monotonic() < settle_end:
            fds_after = fd_count(pid)
            if fds_after <= base_fds + FD_SLACK:
                break
            time.sleep(0.5)
        time.sleep(2)
        rss_after = rss_kib(pid)
        sampler.stop = True
        peak = sampler.peak
        status, health = asyncio.run(get_json(port, "/health"))
        if fds_after > base_fds + FD_SLACK:
            out.fail(f"fd leak: {base_fds} descriptors before, {fds_after} 20 s after the streams ended")
        if peak > PEAK_LIMIT_KIB:
            out.fail(f"peak RSS {peak // 1024} MiB > 1024 MiB")
        # "Near baseline": what the streams took is mostly given back (allocators keep some).
        near = base_rss + max(128 * 1024, (peak - base_rss) // 2)
        if rss_after > near:
            out.fail(f"RSS after {rss_after // 1024} MiB, baseline {base_rss // 1024} MiB, peak {peak // 1024} MiB: not back near the baseline")
        serve.stop()
        entries = replay(ctx.binary, data_dir)
        per_run = check_runs_end_once(out, "soak", entries)
        disconnected = sum(1 for e in entries if e.type == "client_disconnected")
        out.figures = {"streams": streams, "held_s": hold, "slow_readers": figures["slow"], "leavers": figures["leaver"],
                       "ended_done": ended["done"], "left": ended["left"], "client_disconnected": disconnected,
                       "runs_in_journal": len(per_run), "peak_rss_mib": peak // 1024, "baseline_rss_mib": base_rss // 1024,
                       "rss_after_mib": rss_after // 1024, "fds_before": base_fds, "fds_after": fds_after}
        if hold < 60 or streams < 10000:
            out.notes.append(f"{streams} streams held {hold:.0f} s, less than the issue's 10,000 for 60 s (RELIABILITY_SOAK_STREAMS/_SECONDS)")
    finally:
        serve.stop()
    return out


async def _soak(port: int, streams: int, hold: float) -> list:
    """Opens `streams` streams (200 at a time), then waits for all to end."""
    kinds = ["normal", "normal", "normal", "slow", "leaver"]
    gate = asyncio.Semaphore(200)

    async def one(i: int):
        kind = kinds[i % 5]
        await gate.acquire()
        released = False

        def on_open():
            nonlocal released
            if not released:
                released = True
                gate.release()

        try:
            r = await post_stream(port, {"query": f"soak {i}"}, timeout=hold + 120, on_open=on_open,
                                  read_delay=2.0 if kind == "slow" else 0.0,
                                  leave_after_frames=1 if kind == "leaver" else None)
        finally:
            on_open()
        return kind, r

    return await asyncio.gather(*(one(i) for i in range(streams)))
