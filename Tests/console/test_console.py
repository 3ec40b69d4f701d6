#!/usr/bin/env python3
"""The forensic console in a real browser: Debian's headless Chromium driven by Selenium against
real `tandem serve` processes (the debug build) with scripted models.

Run by `make test` after the Swift tests:

  python3 Tests/console/test_console.py [path/to/tandem]

Screenshots (1280 and 390 px wide) go to .build/console-screenshots/. Prints one line per test
and a closing `console: N passed, N failed`; exits non-zero when a test failed.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.support.ui import Select

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCREENSHOTS = os.path.join(ROOT, ".build", "console-screenshots")
API_KEY = "console-test-key"


# MARK: - The server under test

class Server:
    """`tandem serve` on a port it picks itself (`--port 0`), read from its `listening` log line."""

    def __init__(self, binary, prepare=None, **environment):
        self.directory = tempfile.mkdtemp(prefix="tandem-console-")
        if prepare:
            prepare(binary, self.directory)
        env = dict(os.environ)
        env.update({"TANDEM_PROVIDER": "scripted", "GEMINI_API_KEY": "", "LOG_LEVEL": "info", "TANDEM_API_KEYS": ""})
        env.update({key: str(value) for key, value in environment.items()})
        self.api_key = env["TANDEM_API_KEYS"] or None
        self.process = subprocess.Popen(
            [binary, "serve", "--port", "0", "--data-dir", self.directory],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.log = []
        self.port = None
        deadline = time.monotonic() + 60
        for line in self.process.stdout:
            self.log.append(line)
            found = re.search(r"address=\S*:(\d+)", line)
            if "listening" in line and found:
                self.port = int(found.group(1))
                break
            if time.monotonic() > deadline:
                break
        if self.port is None:
            self.stop()
            raise RuntimeError("tandem serve did not report its port:\n" + "".join(self.log))
        # Keep reading the log so the server never blocks on a full pipe.
        threading.Thread(target=lambda: self.log.extend(self.process.stdout), daemon=True).start()

    @property
    def origin(self):
        return f"http://127.0.0.1:{self.port}"

    def request(self, path, method="GET", body=None, timeout=30):
        headers = {"content-type": "application/json"}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.origin + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()

    def run(self, query, run_id):
        """Runs a query to its `done` frame; returns the SSE text."""
        status, text = self.request("/api/reasoning/query", "POST", {"query": query, "run_id": run_id})
        assert status == 200 and "event: done" in text, text
        return text

    def start_run(self, query, run_id):
        """Starts a run in the background; the thread ends when the run is done."""
        thread = threading.Thread(target=self.run, args=(query, run_id), daemon=True)
        thread.start()
        wait_for(lambda: self.events(run_id), 20, f"run {run_id} to start")
        return thread

    def events(self, run_id):
        try:
            return json.loads(self.request(f"/api/runs/{run_id}/events")[1])
        except urllib.error.HTTPError:
            return None

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


class DroppingProxy:
    """A TCP proxy in front of a server whose open connections the test can cut, as a flaky
    network would; it keeps the first bytes of each request to show what the browser sent."""

    def __init__(self, port):
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.open = []
        self.requests = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def origin(self):
        return f"http://127.0.0.1:{self.port}"

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source, sink, from_browser):
        try:
            while chunk := source.recv(65536):
                if from_browser:
                    with self.lock:
                        self.requests.append(chunk[:4096].decode("latin-1"))
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def drop_all(self):
        """Cuts every connection open now (new ones are accepted as before)."""
        with self.lock:
            sockets, self.open = self.open, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self):
        self.listener.close()
        self.drop_all()


# MARK: - The browser

def wait_for(condition, timeout, what):
    """Polls `condition` until it returns something truthy (the page updates on its own time:
    polling is the only way to observe it), failing with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # a stale element while the page re-renders: look again
            last_error = error
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


class Browser:
    def __init__(self):
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
        self.driver.set_page_load_timeout(30)

    def open(self, url):
        self.driver.get(url)

    def css(self, selector):
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def one(self, selector, timeout=15):
        return wait_for(lambda: (self.css(selector) or [None])[0], timeout, selector)

    def screenshot(self, name, dark=False):
        """Saves the page at 1280 and 390 px wide (and, with `dark`, at 1280 in the dark scheme)."""
        os.makedirs(SCREENSHOTS, exist_ok=True)
        for width, height in ((1280, 1000), (390, 1700)):
            self.driver.set_window_size(width, height)
            time.sleep(0.4)  # the timeline redraws on resize; give it a frame
            self.driver.save_screenshot(os.path.join(SCREENSHOTS, f"{name}-{width}.png"))
        self.driver.set_window_size(1280, 900)
        if dark:
            scheme = lambda value: self.driver.execute_cdp_cmd(
                "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": value}]})
            scheme("dark")
            time.sleep(0.2)
            self.driver.save_screenshot(os.path.join(SCREENSHOTS, f"{name}-dark-1280.png"))
            scheme("light")

    def drain_logs(self, allowed=()):
        """Console errors (except `allowed` patterns) and every URL requested since the last drain."""
        errors = [entry["message"] for entry in self.driver.get_log("browser")
                  if entry["level"] == "SEVERE" and not any(re.search(pattern, entry["message"]) for pattern in allowed)]
        requests = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                request = message["params"]["request"]
                requests.append((request["url"], request.get("headers", {})))
        return errors, requests

    def quit(self):
        self.driver.quit()


def check_clean(browser, origins, allowed=()):
    """No console errors; every request went to one of `origins`. Returns the requests."""
    errors, requests = browser.drain_logs(allowed)
    assert not errors, f"console errors: {errors}"
    foreign = [url for url, _ in requests if not any(url.startswith(origin + "/") for origin in origins)]
    assert not foreign, f"requests to another origin: {foreign}"
    return requests


def marks(browser, type_):
    return browser.css(f'svg.timeline g.mark[data-type="{type_}"]')


# MARK: - Tests

def test_runs_page_lists_runs_and_updates_live(ctx):
    server, browser = ctx["timeouts"], ctx["browser"]
    first = server.start_run("Why is the sky blue?", "runs-page-1")
    second = server.start_run("What is a hash chain?", "runs-page-2")
    browser.open(server.origin + "/console")
    row = browser.one('tr[data-run-id="runs-page-2"]')
    assert not browser.css("#api-key"), "no key prompt with keys off"
    ids = [item.get_attribute("data-run-id") for item in browser.css("table.runs tbody tr[data-run-id]")]
    assert ids.index("runs-page-2") < ids.index("runs-page-1"), f"newest first: {ids}"
    assert "running" in row.text, row.text
    # The page follows the runs to their end, and shows a run made while it is open, without a reload.
    first.join(20)
    second.join(20)
    wait_for(lambda: "partial" in browser.one('tr[data-run-id="runs-page-1"]').text, 10, "the run to show as partial")
    third = server.start_run("A third question", "runs-page-3")
    browser.one('tr[data-run-id="runs-page-3"]', timeout=10)
    third.join(20)
    # Filters: status=ok matches none of these partial runs.
    Select(browser.driver.find_element(By.ID, "filter-status")).select_by_value("ok")
    wait_for(lambda: not browser.css('tr[data-run-id="runs-page-1"]'), 10, "the status filter to apply")
    Select(browser.driver.find_element(By.ID, "filter-status")).select_by_value("partial")
    browser.one('tr[data-run-id="runs-page-1"]')
    Select(browser.driver.find_element(By.ID, "filter-since")).select_by_value("15")
    browser.one('tr[data-run-id="runs-page-1"]')
    # Search by run id opens the run; an unknown id says so.
    search = browser.driver.find_element(By.ID, "run-search")
    search.send_keys("no-such-run", Keys.ENTER)
    wait_for(lambda: "No run with id" in browser.one(".search-result").text, 10, "the not-found message")
    search.clear()
    search.send_keys("runs-page-1", Keys.ENTER)
    wait_for(lambda: browser.driver.current_url.endswith("#/run/runs-page-1"), 10, "the run page to open")
    browser.one("svg.timeline")
    browser.open(server.origin + "/console#/runs")
    browser.one('tr[data-run-id="runs-page-3"]')
    browser.screenshot("runs")
    check_clean(browser, [server.origin], allowed=(r"runs/no-such-run - Failed to load resource: .* 404",))


def test_flash_timeout_mark_sits_at_the_deadline(ctx):
    server, browser = ctx["timeouts"], ctx["browser"]
    server.run("Slow flash", "flash-timeout")
    browser.open(server.origin + "/console#/run/flash-timeout")
    badge = browser.one(".chain-slot [data-ok]")
    assert badge.get_attribute("data-ok") == "true", badge.text
    timeout = browser.one('g.mark[data-type="flash_timeout"]')
    deadline = browser.one('g.deadline[data-model="flash"][data-kind="total"]')
    assert float(timeout.get_attribute("data-ms")) == 1000.0, timeout.get_attribute("data-ms")
    assert abs(float(timeout.get_attribute("data-x")) - float(deadline.get_attribute("data-x"))) < 1.0, "timeout mark off its deadline line"
    for type_ in ("run_started", "flash_started", "pro_started", "pro_first_token", "pro_completed", "done"):
        assert marks(browser, type_), f"no {type_} mark"
    assert not marks(browser, "flash_completed")
    assert "timed out" in browser.one(".end-label.end-timeout").text
    # Hover shows the journal entry; so does keyboard focus.
    webdriver.ActionChains(browser.driver).move_to_element(timeout).perform()
    detail = wait_for(lambda: "flash_timeout" in browser.one(".mark-detail").text and browser.one(".mark-detail").text, 5, "the entry on hover")
    assert '"phase": "total"' in detail and f"seq {timeout.get_attribute('data-seq')}" in detail, detail
    browser.driver.execute_script("arguments[0].focus()", marks(browser, "pro_completed")[0])
    wait_for(lambda: "pro_completed" in browser.one(".mark-detail").text, 5, "the entry on focus")
    assert "Verified answer" in browser.one(".answer-pro").text
    assert "timed out" in browser.one(".answer-flash").text
    assert len(browser.css("table.entries tbody tr")) == len(server.events("flash-timeout"))
    browser.screenshot("run-flash-timeout", dark=True)
    check_clean(browser, [server.origin])


def test_pro_first_run_shows_flash_superseded(ctx):
    server, browser = ctx["pro_first"], ctx["browser"]
    server.run("Pro is quicker here", "pro-first")
    browser.open(server.origin + "/console#/run/pro-first")
    browser.one('.chain-slot [data-ok="true"]')
    cancelled = browser.one('g.mark[data-type="flash_cancelled"]')
    completed = marks(browser, "pro_completed")[0]
    assert float(cancelled.get_attribute("data-ms")) >= float(completed.get_attribute("data-ms")) - 1, "Flash was cancelled before Pro answered?"
    assert "superseded" in browser.one(".end-label.end-cancelled").text
    assert not marks(browser, "flash_completed") and not marks(browser, "flash_timeout")
    assert "superseded" in browser.one(".answer-flash").text
    browser.screenshot("run-pro-first")
    check_clean(browser, [server.origin])


# A run no scripted model makes: Flash retried, then timed out at a first-token deadline; Pro failed.
HANDMADE_RUN = [
    ("run_started", {"query": "handmade", "client": {}, "request_digest": "0" * 64, "config": {
        "flash_model": "f", "pro_model": "p", "flash_timeout_s": 5, "pro_timeout_s": 45,
        "provider": "handmade", "redaction": "off", "on_flash_failure": "continue"}}),
    ("flash_started", {"model": "f", "attempt": 1}),
    ("pro_started", {"model": "p", "attempt": 1}),
    ("flash_retry", {"attempt": 1, "delay_ms": 100, "error_class": "upstream_http_5xx", "http_status": 503}),
    ("flash_started", {"model": "f", "attempt": 2}),
    ("flash_timeout", {"timeout_s": 2, "phase": "first_token", "elapsed_ms": 2000}),
    ("pro_failed", {"error_class": "upstream_http_4xx", "message": "bad request", "http_status": 400, "retryable": False}),
    ("done", {"status": "error", "duration_ms": 2100}),
]


def append_handmade_run(binary, directory):
    """Writes HANDMADE_RUN with `tandem journal append` before the server opens the data dir."""
    for type_, data in HANDMADE_RUN:
        subprocess.run([binary, "journal", "append", "--data-dir", directory, "--run", "handmade",
                        "--type", type_, "--data", json.dumps(data)], check=True, capture_output=True)


def test_retries_failures_and_first_token_deadline(ctx):
    server, browser = ctx["pro_first"], ctx["browser"]
    browser.open(server.origin + "/console#/run/handmade")
    browser.one('.chain-slot [data-ok="true"]')
    assert len(marks(browser, "flash_started")) == 2 and marks(browser, "flash_retry"), "both attempts and the retry"
    # A first attempt starts with the run, whenever its (possibly held-back) entry was committed.
    first_attempts = [m for m in marks(browser, "flash_started") + marks(browser, "pro_started") if float(m.get_attribute("data-ms")) == 0.0]
    assert len(first_attempts) == 2, "first attempts at 0 ms"
    assert max(float(m.get_attribute("data-ms")) for m in marks(browser, "flash_started")) > 0.0, "the second attempt at its commit time"
    deadline = browser.one('g.deadline[data-model="flash"][data-kind="first_token"]')
    timeout = marks(browser, "flash_timeout")[0]
    assert float(deadline.get_attribute("data-ms")) == 2000.0
    assert abs(float(timeout.get_attribute("data-x")) - float(deadline.get_attribute("data-x"))) < 1.0
    assert "first-token deadline 2 s" in deadline.text
    assert marks(browser, "pro_failed") and "failed" in browser.one(".end-label.end-failed").text
    assert "bad request (upstream_http_4xx)" in browser.one(".answer-pro").text
    assert "error" in browser.one(".status-slot").text
    for mark in browser.css("svg.timeline g.mark"):
        assert float(mark.get_attribute("data-ms")) <= 2100, "a mark after done"
    browser.screenshot("run-handmade")
    check_clean(browser, [server.origin])


def test_client_disconnect_is_drawn_across_the_lanes(ctx):
    server, browser = ctx["timeouts"], ctx["browser"]
    body = json.dumps({"query": "Leaving early", "run_id": "client-left"}).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as client:
        client.sendall(b"POST /api/reasoning/query HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                       + f"content-length: {len(body)}\r\n\r\n".encode() + body)
        assert client.recv(1024).startswith(b"HTTP/1.1 200"), "the run did not start"
        wait_for(lambda: any(event["type"] == "pro_started" for event in server.events("client-left") or []), 10, "both models to start")
    wait_for(lambda: any(event["type"] == "done" for event in server.events("client-left") or []), 10, "the run to end")
    browser.open(server.origin + "/console#/run/client-left")
    browser.one('.chain-slot [data-ok="true"]')
    left = browser.one('g.mark[data-type="client_disconnected"]')
    assert browser.css("svg.timeline line.run-line-client_disconnected"), "no line across the lanes"
    for model in ("flash", "pro"):
        cancelled = marks(browser, f"{model}_cancelled")
        assert cancelled and float(cancelled[0].get_attribute("data-ms")) >= float(left.get_attribute("data-ms")) - 1, model
    assert "client_disconnected" in browser.one(".end-label.end-cancelled").text
    assert "cancelled" in browser.one(".status-slot").text
    browser.screenshot("run-client-left")
    check_clean(browser, [server.origin])


def test_timeline_shows_deltas_and_what_was_streamed_when_the_client_left(ctx):
    server, browser = ctx["streaming"], ctx["browser"]
    body = json.dumps({"query": "Leaving mid-answer", "run_id": "left-mid-answer", "stream": "deltas"}).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as client:
        client.sendall(b"POST /api/reasoning/query HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                       + f"content-length: {len(body)}\r\n\r\n".encode() + body)
        assert client.recv(1024).startswith(b"HTTP/1.1 200"), "the run did not start"
        wait_for(lambda: sum(event["type"] == "pro_delta" for event in server.events("left-mid-answer") or []) >= 2, 10, "Pro's deltas")
    wait_for(lambda: any(event["type"] == "done" for event in server.events("left-mid-answer") or []), 10, "the run to end")
    events = server.events("left-mid-answer")
    left = next(event["seq"] for event in events if event["type"] == "client_disconnected")
    shown = sum(len(event["data"]["text"].encode()) for event in events if event["type"] == "pro_delta" and event["seq"] < left)
    browser.open(server.origin + "/console#/run/left-mid-answer")
    browser.one('.chain-slot [data-ok="true"]')
    ticks = browser.css('svg.timeline line.delta-tick')
    assert len(ticks) == sum(event["type"].endswith("_delta") for event in events), "one tick per delta"
    label = browser.one('svg.timeline text.streamed-label[data-model="pro"]')
    assert label.get_attribute("data-streamed-when-client-left") == str(shown) and shown > 0, label.text
    assert "when the client left" in label.text
    browser.screenshot("run-deltas-client-left")
    check_clean(browser, [server.origin])


def test_runs_page_pages_with_the_cursor(ctx):
    server, browser = ctx["pro_first"], ctx["browser"]
    runners = [threading.Thread(target=server.run, args=("paging", f"page-{index:02}"), daemon=True) for index in range(26)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(30)
    total = len(json.loads(server.request("/api/runs?limit=1000")[1])["runs"])
    assert total > 26, total
    browser.open(server.origin + "/console#/runs")
    wait_for(lambda: len(browser.css("table.runs tbody tr[data-run-id]")) == 25, 10, "a full first page")
    first_page = [row.get_attribute("data-run-id") for row in browser.css("table.runs tbody tr[data-run-id]")]
    older = browser.driver.find_element(By.XPATH, "//button[contains(., 'Older')]")
    assert older.is_enabled()
    older.click()
    wait_for(lambda: "page 2" in browser.one(".pager").text and len(browser.css("table.runs tbody tr[data-run-id]")) == total - 25, 10, "the second page")
    second_page = [row.get_attribute("data-run-id") for row in browser.css("table.runs tbody tr[data-run-id]")]
    assert not set(first_page) & set(second_page) and second_page[-1] == "handmade", second_page
    assert not older.is_enabled(), "no third page"
    browser.driver.find_element(By.XPATH, "//button[contains(., 'Newer')]").click()
    wait_for(lambda: [row.get_attribute("data-run-id") for row in browser.css("table.runs tbody tr[data-run-id]")] == first_page, 10, "the first page again")
    check_clean(browser, [server.origin])


def test_live_run_updates_and_survives_a_dropped_connection(ctx):
    server, browser = ctx["timeouts"], ctx["browser"]
    proxy = DroppingProxy(server.port)
    try:
        runner = server.start_run("Followed live", "live-run")
        browser.open(proxy.origin + "/console#/run/live-run")
        note = browser.one('.stream-note[data-state="open"]')
        assert "running" in browser.one(".status-slot").text
        # The page updates while the run goes on: Flash's timeout (at 1 s) appears, from its error frame.
        browser.one('g.mark[data-type="flash_timeout"]', timeout=10)
        wait_for(lambda: note.get_attribute("data-frames"), 10, "the error frame")
        assert not any(event["type"] == "done" for event in server.events("live-run")), "the run ended before the drop (machine too slow?)"
        assert not marks(browser, "done")
        proxy.drop_all()
        wait_for(lambda: int(note.get_attribute("data-reconnects")) >= 1, 10, "the page to notice the drop")
        browser.one('g.mark[data-type="done"]', timeout=20)
        browser.one('g.mark[data-type="pro_completed"]')
        wait_for(lambda: note.get_attribute("data-state") == "ended", 10, "the stream to end")
        frames = note.get_attribute("data-frames").split(",")
        assert len(frames) == len(set(frames)), f"a frame was shown twice: {frames}"
        kinds = [event["type"] for event in server.events("live-run")]
        assert len(frames) == sum(kind in ("flash_timeout", "pro_completed", "done") for kind in kinds), (frames, kinds)
        resumed = [text for text in proxy.requests if "/api/runs/live-run/stream" in text and "last-event-id:" in text.lower()]
        assert resumed and f"last-event-id: {frames[0]}" in resumed[-1].lower(), proxy.requests
        assert browser.one('.chain-slot [data-ok="true"]')
        runner.join(10)
        browser.screenshot("run-live")
        # The cut connection may be reported by the browser; nothing else may.
        check_clean(browser, [proxy.origin], allowed=(r"net::ERR_", r"Failed to fetch"))
    finally:
        proxy.close()


def test_metrics_and_journal_pages(ctx):
    server, browser = ctx["timeouts"], ctx["browser"]
    browser.open(server.origin + "/console#/metrics")
    wait_for(lambda: len(browser.css("svg.histogram")) == 4, 10, "four histograms")
    assert "partial" in browser.one("table.counters").text
    assert "total" in browser.css("table.counters")[1].text, "timeouts by phase"
    assert "p99" in browser.one(".percentiles").text
    browser.screenshot("metrics")
    browser.open(server.origin + "/console#/journal")
    head = json.loads(server.request("/api/journal")[1])["head_seq"]
    assert browser.one('[data-field="head_seq"]').text == str(head)
    browser.driver.find_element(By.XPATH, "//button[contains(., 'Verify the whole journal')]").click()
    # The result is drawn twice (the verify's answer, then the journal page reloaded with it).
    wait_for(lambda: browser.one(".verify-result").get_attribute("data-ok") == "true", 20, "a verified journal")
    assert "Verified" in browser.one(".verify-result").text
    browser.screenshot("journal")
    check_clean(browser, [server.origin])


def test_ask_page_streams_with_api_keys_on(ctx):
    server, browser = ctx["keyed"], ctx["browser"]
    browser.open(server.origin + "/console#/ask")
    # Keys on: the console asks for one; a wrong one is refused in plain words.
    key = browser.one("#api-key")
    assert "API keys turned on" in browser.one("main").text
    key.send_keys("wrong-key", Keys.ENTER)
    wait_for(lambda: "refused that API key" in browser.one("main").text, 10, "the refusal message")
    browser.one("#api-key").send_keys(API_KEY, Keys.ENTER)
    query = browser.one("#ask-query")
    assert browser.driver.execute_script("return sessionStorage.getItem('tandem.apiKey')") == API_KEY
    query.send_keys("Which model answers first?")
    browser.driver.find_element(By.XPATH, "//button[contains(., 'Ask both models')]").click()
    # Side by side as the frames come: Flash's preliminary while Pro is still working.
    browser.one('.answer-flash[data-state="answered"]', timeout=20)
    assert browser.one(".answer-pro").get_attribute("data-state") in ("waiting", "streaming"), "Pro answered with Flash: nothing streamed"
    assert "Quick take" in browser.one(".answer-flash").text
    # Deltas: Pro's text grows piece by piece before its verified answer completes.
    browser.one('.answer-pro[data-state="streaming"]', timeout=20)
    shown = len(browser.one(".answer-pro .answer-text").text)
    wait_for(lambda: browser.one(".answer-pro").get_attribute("data-state") == "streaming"
             and len(browser.one(".answer-pro .answer-text").text) > shown, 10, "Pro's streamed text to grow before its answer")
    browser.one('.answer-pro[data-state="answered"]', timeout=20)
    assert "Step 1" in browser.one(".answer-pro").text
    wait_for(lambda: "finished" in browser.one(".ask-outcome").text, 10, "done")
    assert "ok" in browser.one(".ask-outcome").text
    browser.screenshot("ask")
    browser.one(".ask-outcome a").click()
    browser.one('.chain-slot [data-ok="true"]')
    requests = check_clean(browser, [server.origin], allowed=(r"401",))
    api_calls = [(url, {k.lower(): v for k, v in headers.items()}.get("x-api-key")) for url, headers in requests if "/api/" in url]
    assert api_calls, "no API call seen"
    # Before a key was entered, only the calls that found keys are on; from then on, every call has one.
    first_keyed = next(index for index, (_, key) in enumerate(api_calls) if key)
    assert all(url.endswith("/api/runs?limit=1") for url, _ in api_calls[:first_keyed]), api_calls
    unkeyed = [url for url, key in api_calls[first_keyed:] if key not in (API_KEY, "wrong-key")]
    assert not unkeyed, f"API calls without the key: {unkeyed}"
    keyed = [url for url, key in api_calls if key == API_KEY]
    assert any("/api/reasoning/query" in url for url in keyed) and any("/verify" in url for url in keyed), keyed


HOSTILE_QUERY = "<img src=x onerror=alert(1)>"


def test_hostile_text_renders_literally(ctx):
    server, browser = ctx["pro_first"], ctx["browser"]
    # The scripted answers quote the query: the answer holds the same HTML.
    server.run(HOSTILE_QUERY + " <b>bold</b><script>alert(2)</script>", "hostile-text")
    events = server.events("hostile-text")
    assert any("<img" in json.dumps(entry) for entry in events if entry["type"].endswith("_completed")), "the answer holds HTML"

    def no_alert():
        try:
            text = browser.driver.switch_to.alert.text
        except NoAlertPresentException:
            return
        raise AssertionError(f"an alert opened: {text}")

    browser.open(server.origin + "/console#/run/hostile-text")
    wait_for(lambda: HOSTILE_QUERY in browser.one("dd.query").text, 15, "the query as text")
    wait_for(lambda: "<img src=x" in browser.one(".answer-pro").text, 15, "the answer's HTML as text")
    assert "<script>alert(2)</script>" in browser.one("main").text
    assert not browser.css("main img, main script, main b"), "HTML from the journal was parsed"
    no_alert()
    browser.open(server.origin + "/console#/runs")
    browser.one('tr[data-run-id="hostile-text"]')
    assert not browser.css("main img, main script, main b")
    no_alert()
    check_clean(browser, [server.origin])


DOM_URL_CASES = """
const done = arguments[arguments.length - 1];
import("/console/js/dom.js").then((dom) => {
  const results = {};
  for (const [tag, name, value] of arguments[0]) {
    try {
      results[`${tag} ${name}=${value}`] = "set: " + dom.h(tag, {[name]: value}).getAttribute(name);
    } catch (error) {
      results[`${tag} ${name}=${value}`] = "refused: " + error.name;
    }
  }
  done(results);
}, (error) => done({load_error: String(error)}));
"""


def test_dom_sets_only_console_urls(ctx):
    """dom.js's `h` puts only the console's own URLs (`#…`, `/…`) into href/src: a journaled text
    that ever reached an attribute could not navigate or load from elsewhere."""
    server, browser = ctx["pro_first"], ctx["browser"]
    browser.open(server.origin + "/console")
    foreign = [["a", "href", "javascript:alert(1)"], ["img", "src", "https://evil.example/pixel.png"],
               ["a", "href", "//evil.example/x"], ["a", "href", "/\\evil.example"], ["img", "src", "data:image/png;base64,AAAA"],
               ["a", "HREF", " javascript:alert(1)"]]
    local = [["a", "href", "#/runs"], ["a", "href", "/console"]]
    browser.driver.set_script_timeout(20)
    results = browser.driver.execute_async_script(DOM_URL_CASES, foreign + local)
    assert "load_error" not in results, results
    for tag, name, value in foreign:
        assert results[f"{tag} {name}={value}"] == "refused: TypeError", results
    for tag, name, value in local:
        assert results[f"{tag} {name}={value}"] == f"set: {value}", results


class ForeignSite:
    """A page on another origin (Python's http.server on another loopback port) that tries to
    drive the tandem server from the browser, as any web page an operator visits could."""

    def __init__(self, target):
        import http.server
        page = FOREIGN_PAGE.replace("TARGET", target).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# Every way a page may send without a preflight (text/plain and form bodies, no-cors), one with a
# preflight (application/json), and reads of the runs list; results land in window.results.
FOREIGN_PAGE = """<!doctype html><title>elsewhere</title><script>
const target = "TARGET";
const body = JSON.stringify({query: "planted by another site", run_id: "planted"});
const attempts = [
  ["text/plain no-cors", () => fetch(target + "/api/reasoning/query", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body})],
  ["form no-cors", () => fetch(target + "/api/reasoning/query", {method: "POST", mode: "no-cors", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body})],
  ["json cors", () => fetch(target + "/api/reasoning/query", {method: "POST", headers: {"Content-Type": "application/json"}, body})],
  ["verify no-cors", () => fetch(target + "/api/journal/verify", {method: "POST", mode: "no-cors"})],
  ["read runs", () => fetch(target + "/api/runs").then((r) => r.text())],
  ["read journal", () => fetch(target + "/api/journal").then((r) => r.text())],
];
window.results = null;
Promise.all(attempts.map(([name, attempt]) => attempt().then(
  (value) => [name, typeof value === "string" ? "read: " + value.slice(0, 80) : "opaque " + value.type],
  (error) => [name, "failed: " + error.name]))).then((all) => { window.results = Object.fromEntries(all); });
</script>"""


def test_foreign_origin_cannot_start_or_read_runs(ctx):
    # A server of its own with the defaults (keys off): nothing else runs on it, so any change
    # to its journal is the foreign page's doing.
    server, browser = Server(ctx["binary"]), ctx["browser"]
    try:
        foreign_origin_attempts(server, browser)
    finally:
        server.stop()


def foreign_origin_attempts(server, browser):
    server.run("made by the operator", "own-run")
    before = json.loads(server.request("/api/journal")[1])
    site = ForeignSite(server.origin)
    try:
        browser.open(site.origin + "/")
        results = wait_for(lambda: browser.driver.execute_script("return window.results"), 20, "the foreign page's attempts")
    finally:
        site.close()
    browser.drain_logs()  # the foreign page's CORS errors are the point, not the console's
    for name in ("read runs", "read journal", "json cors"):
        assert results[name].startswith("failed"), f"{name}: {results}"
    time.sleep(0.5)  # a request that got through would have journaled by now
    after = json.loads(server.request("/api/journal")[1])
    assert after["head_seq"] == before["head_seq"], f"the foreign page changed the journal: {results}"
    assert after.get("last_verify") == before.get("last_verify"), "the foreign page started a verify"
    assert server.events("planted") is None, "a run was planted"
    # The console itself (same origin) still works: it reads runs and starts a verify.
    browser.open(server.origin + "/console#/journal")
    browser.driver.find_element(By.XPATH, "//button[contains(., 'Verify the whole journal')]").click()
    wait_for(lambda: browser.one(".verify-result").get_attribute("data-ok") == "true", 20, "a verified journal")
    check_clean(browser, [server.origin])


TESTS = [
    test_runs_page_lists_runs_and_updates_live,
    test_flash_timeout_mark_sits_at_the_deadline,
    test_pro_first_run_shows_flash_superseded,
    test_client_disconnect_is_drawn_across_the_lanes,
    test_timeline_shows_deltas_and_what_was_streamed_when_the_client_left,
    test_retries_failures_and_first_token_deadline,
    test_runs_page_pages_with_the_cursor,
    test_live_run_updates_and_survives_a_dropped_connection,
    test_metrics_and_journal_pages,
    test_ask_page_streams_with_api_keys_on,
    test_hostile_text_renders_literally,
    test_dom_sets_only_console_urls,
    test_foreign_origin_cannot_start_or_read_runs,
]


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "tandem")
    if not os.access(binary, os.X_OK):
        print(f"console: no tandem binary at {binary}; build first (swift build)", file=sys.stderr)
        return 2
    started = time.monotonic()
    servers = {}
    browser = None
    passed = failed = 0
    try:
        # Flash times out at its 1 s deadline, Pro answers at 5 s: timeouts, partial runs, a run long enough to follow live.
        servers["timeouts"] = Server(binary, FLASH_TIMEOUT_S="1", TANDEM_SCRIPTED_FLASH_MS="8000", TANDEM_SCRIPTED_PRO_MS="5000")
        # Pro answers before Flash: Flash is cancelled as superseded. Its journal starts with a handmade run.
        servers["pro_first"] = Server(binary, prepare=append_handmade_run, TANDEM_SCRIPTED_FLASH_MS="3000", TANDEM_SCRIPTED_PRO_MS="300")
        # API keys on; Flash well before Pro, for the ask page.
        servers["keyed"] = Server(binary, TANDEM_API_KEYS=API_KEY, TANDEM_SCRIPTED_FLASH_MS="400", TANDEM_SCRIPTED_PRO_MS="2500",
                                  TANDEM_SCRIPTED_PIECES="10")
        # Models that stream in pieces, slowly: deltas runs a client can leave mid-answer.
        servers["streaming"] = Server(binary, TANDEM_SCRIPTED_FLASH_MS="3000", TANDEM_SCRIPTED_PRO_MS="6000", TANDEM_SCRIPTED_PIECES="20")
        browser = Browser()
        ctx = dict(servers, browser=browser, binary=binary)
        for test in TESTS:
            test_started = time.monotonic()
            try:
                browser.drain_logs()
                test(ctx)
                passed += 1
                print(f"PASS {test.__name__} ({time.monotonic() - test_started:.1f} s)", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL {test.__name__}", flush=True)
                traceback.print_exc()
                try:
                    os.makedirs(SCREENSHOTS, exist_ok=True)
                    browser.driver.save_screenshot(os.path.join(SCREENSHOTS, f"FAILED-{test.__name__}.png"))
                except Exception:
                    pass
    finally:
        if browser:
            browser.quit()
        for server in servers.values():
            server.stop()
    print(f"screenshots in {os.path.relpath(SCREENSHOTS, ROOT)}/ ({time.monotonic() - started:.0f} s)")
    print(f"console: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed == len(TESTS) else 1


if __name__ == "__main__":
    sys.exit(main())
