#!/usr/bin/env bash
# Installs what tandem needs on a fresh Debian machine: liblmdb-dev (the journal's storage),
# Python's jsonschema and prometheus_client (the schema and /metrics format checks in the test
# suite), PostgreSQL (the fleet store's tests run a private server), and Debian's chromium +
# chromium-driver with Python's selenium (the console's browser tests; nothing downloads a
# browser at run time), Prometheus (the reliability suite's scrape check), and schemathesis
# (pinned, in its own venv under .build/; the OpenAPI document against a live server,
# Tools/schemathesis.sh). Does nothing when all are present.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
if [ ! -f /usr/include/lmdb.h ]; then
  echo "installing liblmdb-dev ..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq liblmdb-dev pkg-config >/dev/null
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v psql >/dev/null; then
  # The fleet store's tests start their own PostgreSQL server (initdb + pg_ctl on a free port).
  echo "installing postgresql ..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql postgresql-client >/dev/null
fi
if ! python3 -c "import jsonschema, referencing" 2>/dev/null; then
  echo "installing python jsonschema ..."
  python3 -m pip install -q jsonschema
fi
if ! python3 -c "import openapi_spec_validator" 2>/dev/null; then
  echo "installing python openapi-spec-validator ..."
  python3 -m pip install -q openapi-spec-validator
fi
if ! python3 -c "import prometheus_client" 2>/dev/null; then
  echo "installing python prometheus_client (the /metrics format check) ..."
  python3 -m pip install -q prometheus_client
fi
if ! command -v prometheus >/dev/null; then
  echo "installing prometheus (the reliability suite scrapes a running serve with it) ..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "installing chromium and chromium-driver (the console's browser tests) ..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if ! python3 -c "import selenium" 2>/dev/null; then
  echo "installing python selenium (drives chromium in the console's browser tests) ..."
  python3 -m pip install -q selenium
fi
SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV="$(cd "$(dirname "$0")/.." && pwd)/.build/schemathesis-venv"
if ! "$SCHEMATHESIS_VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  if ! python3 -c "import ensurepip, venv" 2>/dev/null; then
    echo "installing python3-venv (schemathesis gets a venv of its own) ..."
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
  fi
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $SCHEMATHESIS_VENV ..."
  rm -rf "$SCHEMATHESIS_VENV"
  python3 -m venv "$SCHEMATHESIS_VENV"
  "$SCHEMATHESIS_VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi
