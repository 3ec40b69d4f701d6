"""Part 6, fuzzing: libFuzzer (`swiftc -sanitize=fuzzer`) over the request body parser, the upstream
SSE parser, the journal line parser and the redaction scanners. The harness
(Tests/Fuzz/FuzzTargets.swift) is compiled with just the tandem source files those need — far
cheaper than a sanitized package build. Each target first replays its committed seed corpus and
regression inputs, then runs a fixed number of iterations from the part's seed; a crash, a broken
property or a unit slower than 100 ms fails, and its input is copied to Tests/Fuzz/regressions/<target>/
so that it is replayed on every later run."""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import threading

from harness import PROCESSES, Outcome, temp_dir

TARGETS = ["request_body", "upstream_sse", "journal_line", "redaction"]
# The tandem files the harness compiles with (one module: their `import Tandem…` lines dropped).
SOURCES = [
    "Sources/TandemDomain/JSON/*.swift",
    "Sources/TandemJournal/Entry/EntryLine.swift",
    "Sources/TandemJournal/Entry/PendingEntry.swift",
    "Sources/TandemJournal/RunID.swift",
    "Sources/TandemJournal/JournalError.swift",
    "Sources/TandemStorage/StorageError.swift",
    "Sources/TandemProviders/HTTP/SSEParser.swift",
    "Sources/TandemRuns/Redaction/*.swift",
]
SHIM = "// The one declaration of another file the fuzzed files name.\nenum JournalEntry { static let largestSeq: UInt64 = 1 << 62 }\n"
IMPORT = re.compile(r"^(public |package |internal )?import Tandem\w+\s*$", re.M)


def build(root: str, work: str) -> tuple[str | None, str]:
    src = os.path.join(work, "src")
    os.makedirs(src)
    for pattern in SOURCES:
        for path in glob.glob(os.path.join(root, pattern)):
            with open(path) as f, open(os.path.join(src, os.path.basename(path)), "w") as out:
                out.write(IMPORT.sub("", f.read()))
    with open(os.path.join(src, "Shims.swift"), "w") as f:
        f.write(SHIM)
    binary = os.path.join(work, "tandem-fuzz")
    argv = ["swiftc", "-sanitize=fuzzer", "-parse-as-library", "-O", "-package-name", "tandem", "-module-name", "TandemFuzz",
            "-I", os.path.join(root, "Sources/CLMDB"), *sorted(glob.glob(os.path.join(src, "*.swift"))),
            os.path.join(root, "Tests/Fuzz/FuzzTargets.swift"), "-o", binary]
    done = subprocess.run(argv, capture_output=True, timeout=900)
    if done.returncode != 0:
        return None, done.stderr.decode(errors="replace")[-1500:]
    return binary, ""


class Build(threading.Thread):
    """The harness's compile, started before the parts that do not time anything run (it takes a
    minute of CPU), joined by the fuzzing part."""

    def __init__(self, root: str) -> None:
        super().__init__(daemon=True)
        self.root, self.work = root, temp_dir("fuzz")
        self.binary: str | None = None
        self.error = ""
        self.skip = ""

    def run(self) -> None:
        try:
            self.binary, self.error, self.skip = _compile(self.root, self.work)
        except Exception as e:  # reported by the part, never lost
            self.error = f"{type(e).__name__}: {e}"


def start_build(ctx) -> None:
    ctx.fuzz_build = Build(ctx.root)
    ctx.fuzz_build.start()


def _compile(root: str, work: str) -> tuple[str | None, str, str]:
    probe = subprocess.run(["swiftc", "-sanitize=fuzzer", "-parse-as-library", "-", "-o", os.path.join(work, "probe")],
                           input=b'@_cdecl("LLVMFuzzerTestOneInput") public func f(_ d: UnsafePointer<UInt8>, _ n: Int) -> CInt { 0 }\n',
                           capture_output=True, timeout=300)
    if probe.returncode != 0:
        return None, "", "this toolchain has no -sanitize=fuzzer"
    binary, error = build(root, work)
    return binary, error, ""


def run(ctx) -> Outcome:
    out = Outcome("fuzzing")
    if getattr(ctx, "fuzz_build", None) is None:
        start_build(ctx)
    ctx.fuzz_build.join(900)
    binary, work = ctx.fuzz_build.binary, ctx.fuzz_build.work
    if ctx.fuzz_build.skip:
        out.status = "SKIP"
        out.notes.append(ctx.fuzz_build.skip)
        return out
    if binary is None:
        out.fail(f"the fuzz harness does not compile: {ctx.fuzz_build.error or 'compile did not finish in 15 min'}")
        return out
    total, replayed = 0, 0
    for target in TARGETS:
        corpus = os.path.join(ctx.root, "Tests/Fuzz/corpus", target)
        regressions = os.path.join(ctx.root, "Tests/Fuzz/regressions", target)
        inputs = sorted(glob.glob(os.path.join(corpus, "*")) + glob.glob(os.path.join(regressions, "*")))
        env = {**os.environ, "FUZZ_TARGET": target, "SWIFT_BACKTRACE": "enable=no"}
        # 1. Every committed input, as a regression test.
        if inputs:
            done = _fuzz(binary, [*inputs], env, work, target)
            replayed += len(inputs)
            if done.returncode != 0:
                out.fail(f"{target}: a committed input fails: {_tail(done)}")
                continue
        # 2. Fresh inputs from the seed corpus, a fixed number of them, from the part's seed.
        scratch = os.path.join(work, f"corpus-{target}")
        shutil.copytree(corpus, scratch)
        seed = ctx.rng.randrange(1, 2**31)
        done = _fuzz(binary, [f"-runs={ctx.fuzz_runs}", f"-seed={seed}", "-max_len=8192", "-timeout=10", scratch], env, work, target)
        total += ctx.fuzz_runs
        if done.returncode != 0:
            kept = _keep_artifacts(work, target, regressions)
            out.fail(f"{target} (seed {seed}): {_tail(done)}; input kept in {', '.join(kept) or 'nothing'}")
    out.figures = {"targets": len(TARGETS), "inputs_tried": total, "committed_inputs_replayed": replayed, "crashes": len(out.failures)}
    return out


def _fuzz(binary: str, args: list[str], env: dict, work: str, target: str) -> subprocess.CompletedProcess:
    proc = PROCESSES.start([binary, f"-artifact_prefix={work}/{target}-", *args], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, cwd=work)
    try:
        stdout, _ = proc.communicate(timeout=600)
    finally:
        PROCESSES.kill(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, b"")


def _keep_artifacts(work: str, target: str, regressions: str) -> list[str]:
    kept = []
    for path in glob.glob(os.path.join(work, f"{target}-*")):
        os.makedirs(regressions, exist_ok=True)
        dest = os.path.join(regressions, os.path.basename(path))
        shutil.copy(path, dest)
        kept.append(os.path.relpath(dest))
    return kept


def _tail(done: subprocess.CompletedProcess) -> str:
    lines = [l for l in done.stdout.decode(errors="replace").splitlines() if "ERROR" in l or "slow unit" in l or "Fatal" in l or "precondition" in l.lower()]
    return " | ".join(lines[:4]) or done.stdout.decode(errors="replace")[-300:]
