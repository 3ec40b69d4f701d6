"""Part 7, PostgreSQL faults with the fleet on (async and sync durability): the server killed with
SIGKILL and restarted, stopped (SIGSTOP) longer than the shipper's 5 s attempt limit, and the fleet
connection reset mid-stream by a loopback TCP proxy the suite controls, all under streaming load.
Then: nothing lost or doubled in PostgreSQL, no stream held past its deadline, the lag back to zero,
`tandem fleet verify` clean."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter

from harness import Outcome, Serve, free_port, get_json, post_stream, replay, run_cli, temp_dir
from journal_checks import check_frames, check_runs_end_once

PRO_TIMEOUT_S = 4
STREAM_LIMIT_S = PRO_TIMEOUT_S + 2  # the run's own deadline plus the time to journal its end


class ResetProxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL; `reset()` cuts every connection with a RST."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.resets = 0
        self._conns: set = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()
        self._ready.wait(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._connection, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _connection(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._conns.add(pair)

        async def pump(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort() if dst.transport else None

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._conns.discard(pair)

    def reset(self) -> None:
        def cut():
            for client, upstream in list(self._conns):
                for w in (client, upstream):
                    sock = w.get_extra_info("socket")
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    except OSError:
                        pass
                    w.transport.abort()
                self.resets += 1
        self._loop.call_soon_threadsafe(cut)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


class Postgres:
    """Tools/postgres-test-server.sh's private server; signals go to its postmaster's process group."""

    def __init__(self, root: str, directory: str, port: int) -> None:
        self.script, self.dir, self.port = os.path.join(root, "Tools/postgres-test-server.sh"), directory, port

    def start(self) -> str:
        return subprocess.run([self.script, "start", self.dir, str(self.port)], check=True, capture_output=True, timeout=120).stdout.decode().strip()

    def stop(self) -> None:
        subprocess.run([self.script, "stop", self.dir], capture_output=True, timeout=60)

    def postmaster(self) -> int:
        with open(os.path.join(self.dir, "data/postmaster.pid")) as f:
            return int(f.readline())

    def signal_all(self, sig: int) -> None:
        """The postmaster and its backends (its children)."""
        pid = self.postmaster()
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True).stdout.split()
        for p in [pid, *map(int, children)]:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass

    def psql(self, sql: str) -> str:
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "tandem", "-d", "postgres", "-tAc", sql],
                              capture_output=True, timeout=60).stdout.decode().strip()


def run(ctx) -> Outcome:
    out = Outcome("postgres-faults")
    if not any(os.path.exists(f"/usr/lib/postgresql/{v}/bin/initdb") for v in os.listdir("/usr/lib/postgresql")) if os.path.isdir("/usr/lib/postgresql") else True:
        out.status = "SKIP"
        out.notes.append("no PostgreSQL installed")
        return out
    work = temp_dir("pg")
    os.chmod(work, 0o755)
    pg = Postgres(ctx.root, os.path.join(work, "pg"), free_port())
    pg.start()
    proxy = ResetProxy(pg.port)
    figures: Counter = Counter()
    try:
        for mode in ("async", "sync"):
            one_mode(ctx, out, pg, proxy, mode, os.path.join(work, mode), figures)
        out.figures = {"modes": 2, "faults": figures["faults"], "proxy_resets": proxy.resets, "runs": figures["runs"],
                       "entries_checked": figures["entries"], "longest_stream_s": round(figures["longest_ms"] / 1000, 1),
                       "lost": figures["lost"], "doubled": figures["doubled"], "async_frames_while_stopped": figures["async_frames_while_stopped"],
                       "sync_frames_while_stopped": figures["sync_frames_while_stopped"]}
    finally:
        try:
            pg.signal_all(signal.SIGCONT)
        except (OSError, ValueError):
            pass
        proxy.stop()
        pg.stop()
    return out


def allowed_end(mode: str, start: float, end: float, outages: list[tuple[float, float]]) -> float:
    """When a stream must have ended. Async: its own deadline (plus journaling) after it began, the
    fleet never holds it. Sync: frames wait for PostgreSQL (SPEC §11: no frame of an unshipped entry
    goes out), so a stream that overlapped an outage may end up to that bound after PostgreSQL came
    back — never later."""
    release = start
    if mode == "sync":
        release = max([start] + [to for fr, to in outages if fr < end and to > start])
    return release + STREAM_LIMIT_S


def one_mode(ctx, out: Outcome, pg: Postgres, proxy: ResetProxy, mode: str, data_dir: str, figures: Counter) -> None:
    node = f"reliability-{mode}"
    url = f"postgres://tandem@127.0.0.1:{proxy.port}/postgres?sslmode=disable"
    env = {"TANDEM_FLEET_URL": url, "TANDEM_FLEET_DURABILITY": mode, "TANDEM_NODE_ID": node, "TANDEM_FLEET_BATCH": "50",
           "TANDEM_SCRIPTED_FLASH_MS": "20", "TANDEM_SCRIPTED_PRO_MS": "100", "FLASH_TIMEOUT_S": "2", "PRO_TIMEOUT_S": str(PRO_TIMEOUT_S)}
    serve = Serve(ctx.binary, data_dir, env, data_dir + ".log")
    runs: dict = {}
    durations: dict = {}
    started: dict = {}
    outages: list[tuple[float, float]] = []  # (from, to) on time.monotonic(): PostgreSQL killed, stopped
    try:
        port = serve.wait_listening()
        stop = threading.Event()

        async def client(i: int):
            n = 0
            while not stop.is_set():
                run_id = f"{mode}-{i}-{n}"
                n += 1
                start = started[run_id] = time.monotonic()
                r = await post_stream(port, {"query": f"fleet {run_id}", "run_id": run_id}, timeout=60)
                runs[run_id], durations[run_id] = r, r.ended_at - start
                if r.status != 200:
                    await asyncio.sleep(0.1)

        async def load():
            tasks = [asyncio.create_task(client(i)) for i in range(8)]
            while not stop.is_set():
                await asyncio.sleep(0.1)
            await asyncio.wait(tasks, timeout=90)

        loader = threading.Thread(target=lambda: asyncio.run(load()), daemon=True)
        loader.start()
        time.sleep(1.5)
        for _ in range(3):                      # resets mid-COPY (batches of 50 under load)
            proxy.reset()
            time.sleep(0.7)
        figures["faults"] += 1
        killed_at = time.monotonic()
        pg.signal_all(signal.SIGKILL)           # killed, then restarted
        time.sleep(1.5)
        # A killed postmaster leaves its pid and socket lock files behind.
        for leftover in ("data/postmaster.pid", f".s.PGSQL.{pg.port}.lock", f".s.PGSQL.{pg.port}"):
            try:
                os.remove(os.path.join(pg.dir, leftover))
            except FileNotFoundError:
                pass
        pg.start()
        outages.append((killed_at, time.monotonic()))
        figures["faults"] += 1
        time.sleep(1.5)
        stopped_at = time.monotonic()
        pg.signal_all(signal.SIGSTOP)           # stopped past the 5 s attempt limit
        time.sleep(6.5)
        pg.signal_all(signal.SIGCONT)
        outages.append((stopped_at, time.monotonic()))
        figures["faults"] += 1
        time.sleep(2)
        stop.set()
        loader.join(120)
        # The lag back to zero.
        lag, end = None, time.monotonic() + 30
        while time.monotonic() < end:
            status, health = asyncio.run(get_json(port, "/health"))
            lag = (health or {}).get("fleet", {}).get("lag_entries") if isinstance(health, dict) else None
            if lag == 0:
                break
            time.sleep(0.5)
        if lag != 0:
            out.fail(f"{mode}: fleet lag {lag} entries 30 s after the faults ended")
    finally:
        serve.stop()
    longest = max(durations.values(), default=0)
    figures["longest_ms"] = max(figures["longest_ms"], int(longest * 1000))
    held = [r for r in durations if runs[r].status == 200 and runs[r].ended_at > allowed_end(mode, started[r], runs[r].ended_at, outages)]
    if held:
        what = "held by the fleet" if mode == "async" else "not released once PostgreSQL was back"
        out.fail(f"{mode}: {len(held)} streams ended later than {STREAM_LIMIT_S} s after " + ("they began" if mode == "async" else "they began or PostgreSQL came back") + f" (longest {longest:.1f} s): {what}")
    if len(outages) == 2:
        # SPEC §11: no frame of an entry not yet in PostgreSQL goes out. While it is stopped nothing
        # ships, so in sync (after 1 s for frames of entries shipped just before) no journaled frame
        # arrives; async counts the same window to show the measure sees frames when nothing holds them.
        stop_from, stop_to = outages[1]
        early = [(r, f.id) for r, res in runs.items() for f in res.frames if f.id is not None and stop_from + 1.0 < f.at < stop_to]
        figures[f"{mode}_frames_while_stopped"] += len(early)
        if mode == "sync" and early:
            out.fail(f"sync: {len(early)} frames reached clients while PostgreSQL was stopped (entries not yet shipped), e.g. {early[:3]}")
    entries = replay(ctx.binary, data_dir)
    figures["entries"] += len(entries)
    figures["runs"] += len(runs)
    check_runs_end_once(out, mode, entries)
    check_frames(out, mode, runs, {e.seq: e for e in entries}, figures)
    # PostgreSQL holds each entry exactly once, the same bytes (fleet verify compares them).
    rows = pg.psql(f"SELECT count(*), count(DISTINCT seq), coalesce(max(seq), 0) FROM tandem.journal WHERE node_id = '{node}'")
    count, distinct, top = (int(x) for x in rows.split("|"))
    if count != len(entries) or distinct != count:
        figures["lost"] += max(0, len(entries) - distinct)
        figures["doubled"] += count - distinct
        out.fail(f"{mode}: PostgreSQL holds {count} rows ({distinct} distinct seqs) for {len(entries)} journal entries")
    runs_rows = pg.psql(f"SELECT count(*), count(DISTINCT run_id) FROM tandem.runs WHERE node_id = '{node}'")
    run_count, run_distinct = (int(x) for x in runs_rows.split("|"))
    journal_runs = len({e.run_id for e in entries})
    if run_count != run_distinct or run_count != journal_runs:
        out.fail(f"{mode}: PostgreSQL has {run_count} run rows ({run_distinct} distinct), the journal {journal_runs} runs")
    direct = f"postgres://tandem@127.0.0.1:{pg.port}/postgres?sslmode=disable"
    verify = run_cli(ctx.binary, ["fleet", "verify", "--node", node, "--data-dir", data_dir], env={"TANDEM_FLEET_URL": direct})
    if verify.returncode != 0:
        out.fail(f"{mode}: fleet verify exited {verify.returncode}: {(verify.stdout + verify.stderr).decode(errors='replace')[-300:]}")
