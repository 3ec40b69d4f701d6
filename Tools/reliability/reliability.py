#!/usr/bin/env python3
"""`make reliability`: runs the release `tandem` against real faults, part by part.

Prints the seed first (replay a failure with RELIABILITY_SEED=<seed>), one line per part (PASS, FAIL
or SKIP with its figures), then `N passed, M failed` alone on a line; writes the table into
docs/RELIABILITY.md between its markers. Every process a part starts is stopped when it ends,
fails or times out. Loopback only.

    python3 Tools/reliability/reliability.py [--parts crash,upstream,...] [--seed N]
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import PROCESSES, TEMP_DIRS, Outcome, remove_temp_dirs  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PARTS = ["crash", "upstream", "storage", "soak", "prometheus", "fuzz", "postgres"]
TABLE_BEGIN = "<!-- reliability-table:begin -->"
TABLE_END = "<!-- reliability-table:end -->"


class Context:
    """What every part reads: binaries, the seeded generator, sizes (overridable for a quick run)."""

    def __init__(self, args) -> None:
        self.root = ROOT
        self.binary = os.path.abspath(args.binary)
        self.faults_binary = os.path.abspath(args.faults_binary)
        self.seed = args.seed
        self.rng = random.Random(args.seed)
        self.mix = os.environ.get("RELIABILITY_MIX", "auto")  # auto: deltas runs when the server has them; answers: none
        self.crash_rounds = int(os.environ.get("RELIABILITY_CRASH_ROUNDS", "30"))
        self.soak_streams = int(os.environ.get("RELIABILITY_SOAK_STREAMS", "10000"))
        self.soak_seconds = float(os.environ.get("RELIABILITY_SOAK_SECONDS", "60"))
        self.fuzz_runs = int(os.environ.get("RELIABILITY_FUZZ_RUNS", "20000"))
        self.fuzz_build = None


def load(name: str):
    import importlib
    return importlib.import_module({
        "crash": "crash_loop", "upstream": "upstream_matrix", "storage": "storage_faults", "soak": "soak",
        "prometheus": "prometheus_scrape", "fuzz": "fuzzing", "postgres": "postgres_faults",
    }[name])


def write_table(path: str, seed: int, outcomes: list[Outcome]) -> None:
    rows = ["| part | result | figures | seconds |", "|---|---|---|---|"]
    for o in outcomes:
        figures = ", ".join(f"{k}: {v}" for k, v in o.figures.items()) or "—"
        note = ("; " + "; ".join(o.notes)) if o.notes else ""
        rows.append(f"| {o.name} | {o.status} | {figures}{note} | {o.seconds:.0f} |")
    table = "\n".join([TABLE_BEGIN, f"Seed {seed}, written by `make reliability` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "", *rows, TABLE_END])
    text = open(path).read() if os.path.exists(path) else ""
    if TABLE_BEGIN in text and TABLE_END in text:
        before, rest = text.split(TABLE_BEGIN, 1)
        after = rest.split(TABLE_END, 1)[1]
        text = before + table + after
    else:
        text += "\n" + table + "\n"
    with open(path, "w") as f:
        f.write(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/tandem"))
    parser.add_argument("--faults-binary", default=os.path.join(ROOT, ".build/release/tandem-faults"))
    parser.add_argument("--parts", default=os.environ.get("RELIABILITY_PARTS", ",".join(PARTS)))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("RELIABILITY_SEED", "20261206")))
    parser.add_argument("--table", default=os.environ.get("RELIABILITY_TABLE", os.path.join(ROOT, "docs/RELIABILITY.md")),
                        help="file whose table to rewrite ('' for none)")
    args = parser.parse_args()
    print(f"reliability: seed {args.seed} (replay with RELIABILITY_SEED={args.seed}), binary {args.binary}", flush=True)
    ctx = Context(args)
    outcomes: list[Outcome] = []
    names = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        print(f"unknown parts {unknown} (parts: {', '.join(PARTS)})", file=sys.stderr)
        return 2
    if "fuzz" in names and names[0] == "crash":
        load("fuzz").start_build(ctx)  # compiles during the crash loop, which times nothing
    for name in names:
        # Each part gets its own generator from the seed, so running one part alone replays it.
        ctx.rng = random.Random(f"{args.seed}:{name}")
        start = time.monotonic()
        try:
            outcome = load(name).run(ctx)
        except Exception as e:
            outcome = Outcome(name)
            outcome.fail(f"{type(e).__name__}: {e}")
            traceback.print_exc()
        finally:
            PROCESSES.stop_all()
        outcome.seconds = time.monotonic() - start
        if name == "crash" and ctx.fuzz_build is not None:
            ctx.fuzz_build.join(900)  # the compile must not share the CPU with the timed parts after
        outcomes.append(outcome)
        print(outcome.line(), flush=True)
        for failure in outcome.failures:
            print(f"    {failure}", flush=True)
    if args.table:
        write_table(args.table, args.seed, outcomes)
    passed = sum(o.status == "PASS" for o in outcomes)
    failed = sum(o.status == "FAIL" for o in outcomes)
    skipped = sum(o.status == "SKIP" for o in outcomes)
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""), flush=True)
    # Data dirs and server logs are kept when a part failed (or RELIABILITY_KEEP=1), for a post-mortem.
    if failed or os.environ.get("RELIABILITY_KEEP") == "1":
        print(f"kept for inspection: {len(TEMP_DIRS)} data dirs (and their .log files), e.g. {TEMP_DIRS[0] if TEMP_DIRS else '-'}", flush=True)
    else:
        remove_temp_dirs()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
