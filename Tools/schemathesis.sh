#!/usr/bin/env bash
# The OpenAPI document against the server: schemathesis (pinned in Tools/install-deps.sh, in its
# own venv) generates requests from Schemas/openapi.json — valid and invalid ones, every
# undeclared method, with and without the key — against a live `tandem serve` with API keys on,
# and runs every check (`--checks all`). A fixed seed makes the run repeatable; the run fails on
# any failure, or when fewer than MIN_REQUESTS requests were generated.
#
#   Tools/schemathesis.sh [path/to/tandem]      (default .build/debug/tandem)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BINARY=${1:-$ROOT/.build/debug/tandem}
ST=$ROOT/.build/schemathesis-venv/bin/st
SEED=${SCHEMATHESIS_SEED:-20261206}
EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-100}
MIN_REQUESTS=${SCHEMATHESIS_MIN_REQUESTS:-1000}
if [ ! -x "$ST" ]; then
  echo "schemathesis: not installed; run Tools/install-deps.sh (make deps)" >&2
  exit 2
fi
if [ ! -x "$BINARY" ]; then
  echo "schemathesis: no tandem binary at $BINARY; build first (swift build)" >&2
  exit 2
fi
WORK=$(mktemp -d)
KEY="schemathesis-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# Keys on. The failed-key throttle is off: schemathesis sends hundreds of requests without a key
# or with a wrong one on purpose (its ignored_auth check), which would otherwise throttle its
# own address after 20. Fast scripted models, so each streamed run ends in milliseconds.
TANDEM_API_KEYS="$KEY" TANDEM_AUTH_FAILURES_PER_MINUTE=0 TANDEM_PROVIDER=scripted GEMINI_API_KEY= \
  TANDEM_SCRIPTED_FLASH_MS=1 TANDEM_SCRIPTED_PRO_MS=2 LOG_LEVEL=info \
  "$BINARY" serve --port 0 --data-dir "$WORK/data" >"$WORK/serve.log" 2>&1 &
SERVE=$!
trap 'kill "$SERVE" 2>/dev/null || true; wait "$SERVE" 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=""
for _ in $(seq 1 600); do
  PORT=$(grep 'listening' "$WORK/serve.log" | grep -o 'address=[^ ]*' | head -1 | sed 's/.*://' || true)
  [ -n "$PORT" ] && break
  kill -0 "$SERVE" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$PORT" ]; then
  echo "schemathesis: tandem serve did not start:" >&2
  cat "$WORK/serve.log" >&2
  exit 1
fi
status=0
"$ST" --no-color run "$ROOT/Schemas/openapi.json" --url "http://127.0.0.1:$PORT" -H "x-api-key: $KEY" \
  --checks all --seed "$SEED" --max-examples "$EXAMPLES" --workers 2 --request-timeout 30 \
  --report ndjson --report-ndjson-path "$WORK/events.ndjson" || status=$?
# Every request schemathesis sent is one interaction in its event log.
REQUESTS=$(grep -o '"request": *{' "$WORK/events.ndjson" | wc -l)
echo "schemathesis: $REQUESTS requests sent (seed $SEED)"
if [ "$status" -ne 0 ]; then exit "$status"; fi
if [ "$REQUESTS" -lt "$MIN_REQUESTS" ]; then
  echo "schemathesis: fewer than $MIN_REQUESTS requests; raise SCHEMATHESIS_MAX_EXAMPLES" >&2
  exit 1
fi
