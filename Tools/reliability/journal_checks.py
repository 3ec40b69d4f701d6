"""The checks that hold the journal against what clients saw, shared by the parts."""
from __future__ import annotations

import json
from collections import Counter, defaultdict

from harness import Entry, Outcome

# The frame each journal event type produces (FrameRenderer). Frames of other types are held to their
# seq's run and to a byte-equal replay.
FRAME_OF = {
    "flash_completed": "preliminary", "pro_completed": "final",
    "flash_timeout": "error", "pro_timeout": "error", "flash_failed": "error", "pro_failed": "error",
    "flash_cancelled": "error", "pro_cancelled": "error",
    "done": "done", "run_aborted": "done",
    "flash_delta": "delta", "pro_delta": "delta",  # deltas runs (issue 21), where the server has them
}


def check_runs_end_once(out: Outcome, where: str, entries: list[Entry], require_end: bool = True) -> dict[str, Counter]:
    """Each run started once and ended exactly once (`done` or `run_aborted`)."""
    per_run: dict[str, Counter] = defaultdict(Counter)
    for e in entries:
        per_run[e.run_id][e.type] += 1
    for run_id, types in per_run.items():
        if types["run_started"] != 1:
            out.fail(f"{where}: run {run_id} has {types['run_started']} run_started entries")
        ends = types["done"] + types["run_aborted"]
        if ends > 1 or (require_end and ends != 1):
            out.fail(f"{where}: run {run_id} has {ends} terminal entries (done/run_aborted)")
    return per_run


def check_frames(out: Outcome, where: str, runs: dict, by_seq: dict[int, Entry], figures: Counter,
                 allow_unjournaled_failure: bool = False) -> list:
    """Every frame with an id is its run's journal entry, of the matching type and answer. Returns the
    runs with frames, for the byte comparison against a replay. Frames without an id are allowed only
    as the stream-failure pair sent when the journal itself failed (`allow_unjournaled_failure`)."""
    seen = []
    for run_id, result in runs.items():
        for f in result.frames:
            figures["frames"] += 1
            if f.id is None:
                code = _field(f.data, "code")
                if allow_unjournaled_failure and (code == "stream_failure" or f.event == "done"):
                    figures["unjournaled_failure_frames"] += 1
                    continue
                out.fail(f"{where}: run {run_id} got a frame without a journal seq: {f.raw[:200]!r}")
                continue
            entry = by_seq.get(f.id)
            if entry is None or entry.run_id != run_id:
                figures["lost"] += 1
                out.fail(f"{where}: run {run_id} frame id {f.id} ({f.event}) is not that run's journal entry "
                         f"({'missing' if entry is None else 'belongs to ' + entry.run_id})")
                continue
            expected = FRAME_OF.get(entry.type)
            if expected is not None and expected != f.event:
                out.fail(f"{where}: frame id {f.id} is `{f.event}` but the entry is {entry.type}")
            if f.event in ("preliminary", "final"):
                try:
                    content = json.loads(f.data)["response"]["content"]
                except (ValueError, KeyError, TypeError):
                    content = None
                if content != entry.data.get("content"):
                    out.fail(f"{where}: frame id {f.id} answer differs from the journal's")
            if f.event == "delta":
                figures["delta_frames"] += 1
                if _field(f.data, "text") != entry.data.get("text") or _field(f.data, "offset") != entry.data.get("offset"):
                    out.fail(f"{where}: delta frame id {f.id} (text, offset) differs from the journal's {entry.type}")
        if any(f.id is not None for f in result.frames):
            seen.append((run_id, [f for f in result.frames if f.id is not None]))
    return seen


def check_deltas(out: Outcome, where: str, entries: list[Entry]) -> int:
    """SPEC §10 on the journal: each `*_delta` entry's `offset` is the UTF-8 bytes of that model's
    deltas before it; a model's deltas in seq order concatenate to its `*_completed.content`. Returns the number of delta entries."""
    streamed: dict[tuple[str, str], bytes] = defaultdict(bytes)
    for e in entries:
        role, _, kind = e.type.partition("_")
        key = (e.run_id, role)
        if kind == "delta":
            if e.data.get("offset") != len(streamed[key]):
                out.fail(f"{where}: {e.type} seq {e.seq} of run {e.run_id} has offset {e.data.get('offset')}, "
                         f"its model's deltas before it hold {len(streamed[key])} bytes")
            streamed[key] += str(e.data.get("text", "")).encode()
        elif kind == "completed" and key in streamed and streamed[key] != str(e.data.get("content", "")).encode():
            out.fail(f"{where}: run {e.run_id}: {role}'s deltas ({len(streamed[key])} bytes) do not concatenate to its completed content")
    return sum(e.type.endswith("_delta") for e in entries)


def _field(data: bytes, key: str):
    try:
        return json.loads(data).get(key)
    except (ValueError, AttributeError):
        return None
