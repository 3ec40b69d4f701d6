"""Part 5: a real Prometheus (Debian's `prometheus`) scrapes a running `serve`; `histogram_quantile`
over `tandem_model_latency_seconds` must answer for the models the runs used."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time
import urllib.parse
import urllib.request

from harness import PROCESSES, Outcome, Serve, free_port, post_stream, replay, temp_dir

QUERY = "histogram_quantile(0.9, sum by (le, model) (rate(tandem_model_latency_seconds_bucket[1m])))"


def run(ctx) -> Outcome:
    out = Outcome("prometheus")
    binary = shutil.which("prometheus")
    if not binary:
        out.fail("Debian's `prometheus` is not installed (Tools/install-deps.sh installs it)")
        return out
    work = temp_dir("prom")
    serve = Serve(ctx.binary, os.path.join(work, "data"), {"TANDEM_SCRIPTED_FLASH_MS": "30", "TANDEM_SCRIPTED_PRO_MS": "80"}, work + "/serve.log")
    prom = None
    try:
        port = serve.wait_listening()

        stop = threading.Event()

        async def load():
            wave = 0
            while not stop.is_set():
                await asyncio.gather(*(post_stream(port, {"query": f"prometheus {wave} {i}"}, timeout=30) for i in range(5)))
                wave += 1
                await asyncio.sleep(0.5)

        prom_port = free_port()
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write(f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
                    f"  - job_name: tandem\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
        log = open(os.path.join(work, "prometheus.log"), "wb")
        prom = PROCESSES.start([binary, f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/tsdb",
                                f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=log, stderr=log)
        # Load all along, so that rate() over the scrapes sees latencies arrive.
        loader = threading.Thread(target=lambda: asyncio.run(load()), daemon=True)
        loader.start()
        time.sleep(3)
        # The models (the histogram's `model` label is the role) the journal says answered.
        expected = {e.type.split("_")[0] for e in replay(ctx.binary, os.path.join(work, "data")) if e.type.endswith("_completed")}
        answer, models, up = None, set(), None
        end = time.monotonic() + 30
        while time.monotonic() < end:
            time.sleep(1)
            try:
                up = _query(prom_port, "up")
                answer = _query(prom_port, QUERY)
            except OSError:
                continue
            models = {r["metric"].get("model") for r in answer["data"]["result"] if r["value"][1] not in ("NaN",)}
            if models == expected:
                break
        stop.set()
        loader.join(30)
        out.figures = {"scrapes_up": _up_value(up), "models": ",".join(sorted(m for m in models if m)) or "none",
                       "series": len(answer["data"]["result"]) if answer else 0}
        if models != expected or len(expected) < 2:
            out.fail(f"histogram_quantile answered for {sorted(m for m in models if m)}, the journal's models are {sorted(expected)} (answer {json.dumps(answer)[:300]})")
    finally:
        serve.stop()
        if prom:
            PROCESSES.kill(prom)
    return out


def _query(port: int, expr: str) -> dict:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def _up_value(up: dict | None) -> str:
    try:
        return up["data"]["result"][0]["value"][1]
    except (TypeError, KeyError, IndexError):
        return "-"
