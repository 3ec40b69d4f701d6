"""Part 1, the crash loop: `serve` under 16-32 streaming clients, killed with SIGKILL at a random
moment (or by a test-only fault point inside a projection commit, fleet ship or run-index flush),
restarted; after every round the journal, the frames the clients saw and the projection must agree."""
from __future__ import annotations

import asyncio
import glob
import json
import os
import time
from collections import Counter

from harness import Outcome, Serve, free_port, get_json, post_stream, replay, run_cli, temp_dir
from postgres_faults import Postgres
from journal_checks import check_deltas, check_frames, check_runs_end_once


class Client:
    """One client: posts queries one after another until told to stop; keeps every frame it saw."""

    def __init__(self, index: int, round_no: int, rng, deltas: bool, port: int) -> None:
        self.index, self.round_no, self.rng, self.deltas, self.port = index, round_no, rng, deltas, port
        self.runs: dict[str, object] = {}
        self.stop = False

    async def loop(self) -> None:
        n = 0
        while not self.stop:
            run_id = f"c{self.round_no}-{self.index}-{n}"
            n += 1
            body = {"query": f"crash loop question {run_id}: {self.rng.random()}", "run_id": run_id,
                    "context": {"round": self.round_no}}
            if self.deltas and self.rng.random() < 0.5:
                body["stream"] = "deltas"
            result = await post_stream(self.port, body, timeout=30)
            self.runs[run_id] = result
            if result.error and result.status == 0:
                return


def probe_deltas(port: int) -> tuple[bool, str]:
    """Whether the server takes `"stream": "deltas"` (issue 21): 422 naming the field means no."""
    result = asyncio.run(post_stream(port, {"query": "deltas probe", "stream": "deltas"}, timeout=30))
    if result.status == 422:
        try:
            field = json.loads(result.body).get("field")
        except (json.JSONDecodeError, AttributeError):
            field = None
        if field == "stream":
            return False, "the server refuses \"stream\" (422): answers only"
    if result.status != 200:
        return False, f"deltas probe answered {result.status}: answers only"
    events = {f.event for f in result.frames}
    if events - {"preliminary", "final", "error", "done"}:
        return True, "deltas runs included"
    return False, "the server ignores \"stream\" (no delta frames): answers only"


FLEET_SHIP = "TANDEM_FLEET_TEST_KILL_BEFORE_COMMIT_SEQ"


def fault_plan(ctx) -> tuple[str, list[tuple[str, str]]]:
    """The binary and the kill variables for fault-point rounds: `tandem-faults` when it was built
    (with the fleet ship point when PostgreSQL is installed), else `tandem` with the projection fault
    point it still reads."""
    faults = ctx.faults_binary
    if faults and os.path.exists(faults):
        points = [("projection update", "TANDEM_PROJECTIONS_TEST_KILL_BEFORE_COMMIT_SEQ"),
                  ("run-index flush", "TANDEM_RUN_INDEX_TEST_KILL_BEFORE_FLUSH_SEQ")]
        if os.environ.get("RELIABILITY_CRASH_FLEET", "1") == "1" and glob.glob("/usr/lib/postgresql/*/bin/initdb"):
            points.append(("fleet ship", FLEET_SHIP))
        return faults, points
    return ctx.binary, [("projection update", "TANDEM_PROJECTIONS_TEST_KILL_BEFORE_COMMIT_SEQ")]


class Fleet:
    """A private PostgreSQL for the fleet-ship rounds: the node ships its journal there (async) during
    such a round and the restart after it; then PostgreSQL must hold every entry exactly once."""

    def __init__(self, ctx) -> None:
        work = temp_dir("crash-pg")
        os.chmod(work, 0o755)
        self.ctx = ctx
        self.pg = Postgres(ctx.root, os.path.join(work, "pg"), free_port())
        self.url = self.pg.start()

    def env(self) -> dict[str, str]:
        return {"TANDEM_FLEET_URL": self.url, "TANDEM_FLEET_BATCH": "50"}  # the node id stored in the data dir

    def check(self, out: Outcome, where: str, port: int, data_dir: str, figures: Counter) -> None:
        end, lag = time.monotonic() + 30, None
        while time.monotonic() < end:
            _, health = asyncio.run(get_json(port, "/health"))
            lag = health.get("fleet", {}).get("lag_entries") if isinstance(health, dict) else None
            if lag == 0:
                break
            time.sleep(0.3)
        if lag != 0:
            out.fail(f"{where}: fleet lag {lag} entries 30 s after the restart")
            return
        entries = replay(self.ctx.binary, data_dir)
        nodes = self.pg.psql("SELECT string_agg(DISTINCT node_id, ',') FROM tandem.journal").split(",")
        if len(nodes) != 1:
            out.fail(f"{where}: the private PostgreSQL holds the rows of nodes {nodes}, expected one")
            return
        rows = self.pg.psql(f"SELECT count(*), count(DISTINCT seq) FROM tandem.journal WHERE node_id = '{nodes[0]}'")
        count, distinct = (int(x) for x in rows.split("|"))
        figures["fleet_rows_checked"] = count
        if count != len(entries) or distinct != count:
            out.fail(f"{where}: PostgreSQL holds {count} rows ({distinct} distinct seqs) for {len(entries)} journal entries")
        verify = run_cli(self.ctx.binary, ["fleet", "verify", "--node", nodes[0], "--data-dir", data_dir], env={"TANDEM_FLEET_URL": self.url})
        if verify.returncode != 0:
            out.fail(f"{where}: fleet verify exited {verify.returncode}: {(verify.stdout + verify.stderr).decode(errors='replace')[-300:]}")

    def stop(self) -> None:
        self.pg.stop()


def run(ctx) -> Outcome:
    out = Outcome("crash-loop")
    rng = ctx.rng
    data_dir = temp_dir("crash")
    log = os.path.join(data_dir + ".log")
    binary = ctx.binary
    fault_binary, fault_points = fault_plan(ctx)
    out.notes.append(f"fault points via {os.path.basename(fault_binary)} ({', '.join(p for p, _ in fault_points)})")
    rounds = ctx.crash_rounds
    env_base = {"TANDEM_DURABILITY": "sync", "TANDEM_SSE_PING_S": "15"}
    fleet = Fleet(ctx) if any(v == FLEET_SHIP for _, v in fault_points) else None

    serve = Serve(binary, data_dir, {**env_base, **_latencies(rng)}, log)
    port = serve.wait_listening()
    deltas, deltas_note = (False, "deltas off by RELIABILITY_MIX=answers") if ctx.mix == "answers" else probe_deltas(port)
    out.notes.append(deltas_note)
    figures = Counter()
    head = 0
    try:
        for round_no in range(rounds):
            fault = None
            if round_no % 3 == 2:
                fault = fault_points[(round_no // 3) % len(fault_points)]
                serve.stop()
                latency = {"TANDEM_SCRIPTED_FLASH_MS": str(rng.randint(5, 60)), "TANDEM_SCRIPTED_PRO_MS": str(rng.randint(20, 200)),
                           "TANDEM_SCRIPTED_PIECES": str(rng.randint(1, 12))}
                kill_at = head + rng.randint(20, 200)
                fleet_env = fleet.env() if fault[1] == FLEET_SHIP else {}
                serve = Serve(fault_binary, data_dir, {**env_base, **latency, **fleet_env, fault[1]: str(kill_at)}, log)
                port = serve.wait_listening()
            clients_n = rng.randint(16, 32)
            clients = [Client(i, round_no, rng, deltas, port) for i in range(clients_n)]
            kill_after = rng.uniform(0.3, 2.5)
            died_alone = asyncio.run(_round(serve, clients, kill_after, fault is not None))
            figures["kills"] += 1
            if fault:
                figures["fault_point_kills" if died_alone else "fault_point_missed"] += 1
            fleet_round = fault is not None and fault[1] == FLEET_SHIP
            serve = Serve(binary, data_dir, {**env_base, **_latencies(rng), **(fleet.env() if fleet_round else {})}, log)
            port = serve.wait_listening()
            head = check_round(ctx, out, figures, round_no, serve, port, data_dir, clients)
            if fleet_round:
                fleet.check(out, f"round {round_no}", port, data_dir, figures)
                figures["fleet_rounds"] += 1
            figures["rounds"] += 1
        out.figures = {"rounds": figures["rounds"], "kills": figures["kills"],
                       "fault_point_kills": figures["fault_point_kills"], "runs": figures["runs"],
                       "frames_checked": figures["frames"], "delta_frames": figures["delta_frames"],
                       "entries_checked": figures["entries"], "delta_entries": figures["delta_entries"], "lost": figures["lost"]}
        if fleet:
            out.figures.update({"fleet_rounds": figures["fleet_rounds"], "fleet_rows_checked": figures["fleet_rows_checked"]})
        if deltas and not figures["delta_frames"]:
            out.fail("the server takes \"stream\": \"deltas\" but no client saw a delta frame")
        if figures["fault_point_missed"]:
            out.notes.append(f"{figures['fault_point_missed']} fault-point rounds ended by SIGKILL instead")
    except Exception as e:  # a broken round is a failure with its reason, never a crash of the suite
        out.fail(f"round aborted: {type(e).__name__}: {e}")
        out.figures = dict(figures)
    finally:
        serve.stop()
        if fleet:
            fleet.stop()
    return out


def _latencies(rng) -> dict[str, str]:
    """Random scripted latencies: runs end before, across and after the kill."""
    return {"TANDEM_SCRIPTED_FLASH_MS": str(rng.randint(5, 300)), "TANDEM_SCRIPTED_PRO_MS": str(rng.randint(20, 1500)),
            "TANDEM_SCRIPTED_PIECES": str(rng.randint(1, 12))}


async def _round(serve: Serve, clients: list[Client], kill_after: float, fault_round: bool) -> bool:
    tasks = [asyncio.create_task(c.loop()) for c in clients]
    died_alone = False
    if fault_round:
        end = time.monotonic() + 8
        while time.monotonic() < end and serve.proc.poll() is None:
            await asyncio.sleep(0.05)
        died_alone = serve.proc.poll() is not None
    else:
        await asyncio.sleep(kill_after)
    serve.kill9()
    for c in clients:
        c.stop = True
    await asyncio.wait(tasks, timeout=40)
    for t in tasks:
        t.cancel()
    return died_alone


def check_round(ctx, out: Outcome, figures: Counter, round_no: int, serve: Serve, port: int, data_dir: str, clients) -> int:
    where = f"round {round_no}"
    verify = run_cli(ctx.binary, ["journal", "verify", "--data-dir", data_dir], timeout=300)
    if verify.returncode != 0:
        out.fail(f"{where}: journal verify exited {verify.returncode}: {verify.stdout.decode(errors='replace')[-300:]}{verify.stderr.decode(errors='replace')[-300:]}")
    entries = replay(ctx.binary, data_dir)
    figures["entries"] = len(entries)
    by_seq = {e.seq: e for e in entries}
    per_run = check_runs_end_once(out, where, entries)
    figures["delta_entries"] = check_deltas(out, where, entries)
    runs = {run_id: result for c in clients for run_id, result in c.runs.items()}
    figures["runs"] += sum(r.status == 200 for r in runs.values())
    seen_runs = check_frames(out, where, runs, by_seq, figures)
    asyncio.run(_compare_replays(out, where, port, seen_runs))
    # The projection: rebuilt from the journal equals live, and each run is listed once.
    rebuild = run_cli(ctx.binary, ["projections", "rebuild", "--verify", "--data-dir", data_dir], timeout=300)
    if rebuild.returncode != 0:
        out.fail(f"{where}: projections rebuild --verify exited {rebuild.returncode}: {(rebuild.stdout + rebuild.stderr).decode(errors='replace')[-300:]}")
    listed = asyncio.run(_list_runs(port, len(per_run)))
    dupes = [r for r, n in Counter(listed).items() if n > 1]
    if dupes:
        out.fail(f"{where}: runs listed twice by the projection: {dupes[:5]}")
    if set(listed) != set(per_run):
        missing = set(per_run) - set(listed)
        extra = set(listed) - set(per_run)
        out.fail(f"{where}: projection lists {len(set(listed))} runs, the journal has {len(per_run)} (missing {list(missing)[:3]}, extra {list(extra)[:3]})")
    return entries[-1].seq if entries else 0


async def _compare_replays(out: Outcome, where: str, port: int, seen_runs) -> None:
    """The restarted server replays each run from the journal (the same FrameRenderer as live): what
    a client saw must be a byte-equal prefix of it."""
    gate = asyncio.Semaphore(32)

    async def one(run_id, frames):
        async with gate:
            replayed = await post_stream(port, b"", timeout=30, path=f"/api/runs/{run_id}/stream", method="GET")
        if replayed.status != 200:
            out.fail(f"{where}: replay of run {run_id} answered {replayed.status}")
            return
        got = [f.raw for f in replayed.frames]
        if got[:len(frames)] != [f.raw for f in frames]:
            out.fail(f"{where}: run {run_id}: frames seen live differ from the journal's replay "
                     f"(live {[f.raw[:80] for f in frames][:3]}, replay {[r[:80] for r in got][:3]})")

    await asyncio.gather(*(one(r, f) for r, f in seen_runs))


async def _list_runs(port: int, expected: int) -> list[str]:
    """Every run the live projection lists (all pages); waits up to 10 s for it to catch up."""
    end = time.monotonic() + 10
    while True:
        ids, cursor = [], None
        while True:
            path = "/api/runs?limit=1000" + (f"&cursor={cursor}" if cursor else "")
            status, page = await get_json(port, path)
            if status != 200 or not isinstance(page, dict):
                raise RuntimeError(f"GET {path} answered {status}")
            ids += [r.get("run_id") or r.get("id") for r in page["runs"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        if len(set(ids)) >= expected or time.monotonic() > end:
            return ids
        await asyncio.sleep(0.2)
